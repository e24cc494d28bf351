import LD4MRecCore

/// A small, strict reader and writer of NumPy `.npy` files: 2-D, C order, little-endian
/// float32 or float16 (read), float32 (written).
package enum NPY {
    package static func readMatrix(_ path: String) throws -> Matrix {
        let bytes = try FileBytes.read(path)
        func fail(_ message: String) -> LD4MRecError { .invalidFile("'\(path)': \(message)") }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0 ..< 6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0 ..< 4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail(".npy format version \(major) is not supported")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart ..< headerStart + headerLength], as: UTF8.self)
        func field(_ key: String) throws -> String {
            let pattern = Array("'\(key)':")
            let characters = Array(header)
            guard let start = (0 ... max(0, characters.count - pattern.count)).first(where: {
                characters.count >= pattern.count && Array(characters[$0 ..< $0 + pattern.count]) == pattern
            }) else { throw fail("header has no '\(key)'") }
            return String(characters[(start + pattern.count)...]).trimmingLeadingSpaces()
        }
        let descr = String(try field("descr").split(separator: "'", omittingEmptySubsequences: false).dropFirst().first ?? "")
        let elementSize: Int
        switch descr {
        case "<f4": elementSize = 4
        case "<f2": elementSize = 2
        default: throw fail("dtype '\(descr)' is not supported (need little-endian float32 or float16)")
        }
        guard try field("fortran_order").hasPrefix("False") else { throw fail("Fortran-order arrays are not supported") }
        let shapeText = try field("shape")
        guard shapeText.hasPrefix("("), let close = shapeText.firstIndex(of: ")") else { throw fail("malformed shape") }
        let dims = shapeText[shapeText.index(after: shapeText.startIndex) ..< close]
            .split(separator: ",").map { $0.trimmingLeadingSpaces() }.filter { !$0.isEmpty }
        guard dims.count == 2, let rows = Int(dims[0]), let cols = Int(dims[1]), rows >= 0, cols >= 1 else {
            throw fail("shape (\(dims.joined(separator: ", "))) is not 2-D")
        }
        let count = try checkedProduct([rows, cols], what: "'\(path)'")
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * elementSize else {
            throw fail("holds \(bytes.count - dataStart) data bytes, shape (\(rows), \(cols)) needs \(count * elementSize)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let data = raw.baseAddress! + dataStart
            for i in 0 ..< count {
                if elementSize == 4 {
                    values[i] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                } else {
                    values[i] = Float(Float16(bitPattern: UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                }
            }
        }
        if let bad = Kernels.firstNonFinite(values) {
            throw fail("row \(bad / cols), column \(bad % cols) is \(values[bad]), not finite")
        }
        return Matrix(unchecked: rows, cols, values)  // count = rows * cols, checked above
    }

    package static func write(_ matrix: Matrix, to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(matrix.rows), \(matrix.cols)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes += [UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + 4 * matrix.values.count)
        for value in matrix.values {
            let bits = value.bitPattern.littleEndian
            bytes += [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff), UInt8(bits >> 24)]
        }
        try FileBytes.write(bytes, to: path)
    }
}

extension StringProtocol {
    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " })) }
}
