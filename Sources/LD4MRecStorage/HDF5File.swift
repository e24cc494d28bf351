import CLD4MRecHDF5
import LD4MRecCore
#if canImport(Glibc)
import Glibc
#endif

/// The only place that calls libhdf5. Every call runs under one process-wide lock
/// (`HDF5File.serialized`), so files are read and written one at a time; nothing here is
/// on the scoring path.
final class HDF5File {
    let path: String
    private var id: hid_t

    private static let lock = ReadWriteLock()
    /// Runs `body` holding the libhdf5 lock. All uses of `HDF5File` happen inside it.
    static func serialized<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withWriteLock {
            // Errors come back as return codes and become LD4MRecErrors: don't let libhdf5
            // print its error stacks into the host's stderr. A thread-safe libhdf5 keeps
            // this setting per thread, so it is set on every entry.
            _ = ld4mrec_h5_silence_errors()
            return try body()
        }
    }

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit { if id >= 0 { H5Fclose(id) } }

    /// Opens an existing file read-only. Missing or unreadable files are `.io` errors;
    /// files that are not HDF5 are `.invalidFile`.
    static func openForReading(_ path: String) throws -> HDF5File {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw LD4MRecError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw LD4MRecError(.io, "cannot open '\(path)': not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw LD4MRecError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        guard H5Fis_hdf5(path) > 0 else {
            throw LD4MRecError.invalidFile("'\(path)' is not an HDF5 file (empty, truncated or another format)")
        }
        let id = H5Fopen(path, ld4mrec_h5f_acc_rdonly(), ld4mrec_h5p_default())
        guard id >= 0 else { throw LD4MRecError.invalidFile("'\(path)' is a damaged HDF5 file") }
        return HDF5File(path: path, id: id)
    }

    /// Creates (or truncates) a file for writing.
    static func create(_ path: String) throws -> HDF5File {
        let properties = try timeless(ld4mrec_h5p_file_create())  // the root group's
        defer { H5Pclose(properties) }
        let id = H5Fcreate(path, ld4mrec_h5f_acc_trunc(), properties, ld4mrec_h5p_default())
        guard id >= 0 else { throw LD4MRecError(.io, "cannot create HDF5 file '\(path)'") }
        return HDF5File(path: path, id: id)
    }

    /// Creation properties of class `propertyClass` that leave out the objects' times:
    /// HDF5 stamps every group and dataset with the second it was written unless told
    /// not to, and the same model would then make a different file every time.
    private static func timeless(_ propertyClass: hid_t) throws -> hid_t {
        let properties = H5Pcreate(propertyClass)
        guard properties >= 0, H5Pset_obj_track_times(properties, false) >= 0 else {
            if properties >= 0 { H5Pclose(properties) }
            throw LD4MRecError(.internalError, "cannot set HDF5 creation properties")
        }
        return properties
    }

    /// Flushes and closes; errors surface here rather than in `deinit`.
    func close() throws {
        guard id >= 0 else { return }
        let status = H5Fclose(id)
        id = -1
        guard status >= 0 else { throw LD4MRecError(.io, "cannot write '\(path)'") }
    }

    // MARK: Objects

    /// Whether the object at an absolute path exists (checks each component, since
    /// H5Lexists fails on a missing intermediate group).
    func exists(_ name: String) -> Bool {
        var prefix = ""
        for component in name.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(id, prefix, ld4mrec_h5p_default()) > 0 else { return false }
        }
        return true
    }

    private func describe(_ name: String) -> String { "'\(path)': '\(name)'" }

    // MARK: Datasets

    enum ElementType: String {
        case float32, int64

        fileprivate func matches(_ type: hid_t) -> Bool {
            switch self {
            case .float32: return H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4
            case .int64:
                return H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 8 && H5Tget_sign(type) == H5T_SGN_2
            }
        }

        fileprivate var memoryType: hid_t {
            switch self {
            case .float32: return ld4mrec_h5t_native_float()
            case .int64: return ld4mrec_h5t_native_int64()
            }
        }
    }

    private func openDataset(_ name: String) throws -> hid_t {
        guard exists(name) else { throw LD4MRecError.invalidFile("\(describe(name)): dataset is missing") }
        let dataset = H5Dopen2(id, name, ld4mrec_h5p_default())
        guard dataset >= 0 else { throw LD4MRecError.invalidFile("\(describe(name)): not a dataset") }
        return dataset
    }

    private func shape(ofDataset dataset: hid_t, _ name: String) throws -> [Int] {
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw LD4MRecError.invalidFile("\(describe(name)): unreadable dataspace") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 8 else { throw LD4MRecError.invalidFile("\(describe(name)): unsupported dataspace") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        return try dims.map {
            guard let value = Int(exactly: $0), value <= Int(Int32.max) * 64 else {
                throw LD4MRecError.invalidFile("\(describe(name)): dimension \($0) is too large")
            }
            return value
        }
    }

    /// Reads a whole dataset, requiring its element type and rank.
    private func read<T>(_ name: String, _ type: ElementType, rank: Int, zero: T) throws -> (shape: [Int], values: [T]) {
        let dataset = try openDataset(name)
        defer { H5Dclose(dataset) }
        let fileType = H5Dget_type(dataset)
        defer { if fileType >= 0 { H5Tclose(fileType) } }
        guard fileType >= 0, type.matches(fileType) else {
            throw LD4MRecError.invalidFile("\(describe(name)): element type must be \(type.rawValue)")
        }
        let shape = try shape(ofDataset: dataset, name)
        guard shape.count == rank else {
            throw LD4MRecError.invalidFile("\(describe(name)): expected \(rank) dimension(s), found shape \(shape)")
        }
        let count = try checkedProduct(shape, what: describe(name))
        // A chunked dataset may declare far more elements than it stores (unwritten chunks
        // read as fill values). Refuse sizes out of proportion to the bytes in the file
        // before allocating: a failed allocation would abort the host process.
        let stored = Int(clamping: H5Dget_storage_size(dataset))
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.size)
        guard !overflow, bytes <= 16 << 20 || bytes / 256 <= stored else {
            throw LD4MRecError.invalidFile("\(describe(name)): declares shape \(shape) but stores only \(stored) bytes")
        }
        var values = [T](repeating: zero, count: count)
        if count > 0 {
            let status = values.withUnsafeMutableBytes {
                H5Dread(dataset, type.memoryType, ld4mrec_h5s_all(), ld4mrec_h5s_all(), ld4mrec_h5p_default(), $0.baseAddress)
            }
            guard status >= 0 else { throw LD4MRecError.invalidFile("\(describe(name)): data cannot be read (truncated file?)") }
        }
        return (shape, values)
    }

    /// A float32 dataset of the given rank; every value must be finite.
    func readFloats(_ name: String, rank: Int) throws -> (shape: [Int], values: [Float]) {
        let result = try read(name, .float32, rank: rank, zero: Float(0))
        if let bad = Kernels.firstNonFinite(result.values) {
            throw LD4MRecError.invalidFile("\(describe(name)): value \(result.values[bad]) at flat index \(bad) is not finite")
        }
        return result
    }

    func readInt64s(_ name: String, rank: Int) throws -> (shape: [Int], values: [Int64]) {
        try read(name, .int64, rank: rank, zero: Int64(0))
    }

    private func write(_ name: String, _ type: ElementType, shape: [Int], bytes: UnsafeRawBufferPointer) throws {
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        guard space >= 0 else { throw LD4MRecError(.io, "\(describe(name)): cannot create dataspace") }
        defer { H5Sclose(space) }
        try createParentGroups(of: name)
        let properties = try Self.timeless(ld4mrec_h5p_dataset_create())
        defer { H5Pclose(properties) }
        let dataset = H5Dcreate2(id, name, type.memoryType, space, ld4mrec_h5p_default(), properties, ld4mrec_h5p_default())
        guard dataset >= 0 else { throw LD4MRecError(.io, "\(describe(name)): cannot create dataset") }
        defer { H5Dclose(dataset) }
        if bytes.count > 0 {
            guard H5Dwrite(dataset, type.memoryType, ld4mrec_h5s_all(), ld4mrec_h5s_all(),
                           ld4mrec_h5p_default(), bytes.baseAddress) >= 0 else {
                throw LD4MRecError(.io, "\(describe(name)): cannot write dataset")
            }
        }
    }

    func writeFloats(_ name: String, shape: [Int], _ values: [Float]) throws {
        try values.withUnsafeBytes { try write(name, .float32, shape: shape, bytes: $0) }
    }

    func writeInt64s(_ name: String, shape: [Int], _ values: [Int64]) throws {
        try values.withUnsafeBytes { try write(name, .int64, shape: shape, bytes: $0) }
    }

    func createGroup(_ name: String) throws {
        try createParentGroups(of: name)
        try makeGroup(name)
    }

    /// The groups above `name` that do not exist yet, made as `createGroup` makes them
    /// (HDF5's own intermediate groups would carry times). Walking down from the root,
    /// each prefix's parent exists by the time it is looked up.
    private func createParentGroups(of name: String) throws {
        var prefix = ""
        for component in name.split(separator: "/").dropLast() {
            prefix += "/" + component
            if H5Lexists(id, prefix, ld4mrec_h5p_default()) <= 0 { try makeGroup(prefix) }
        }
    }

    private func makeGroup(_ name: String) throws {
        let properties = try Self.timeless(ld4mrec_h5p_group_create())
        defer { H5Pclose(properties) }
        let group = H5Gcreate2(id, name, ld4mrec_h5p_default(), properties, ld4mrec_h5p_default())
        guard group >= 0 else { throw LD4MRecError(.io, "\(describe(name)): cannot create group") }
        H5Gclose(group)
    }

    // MARK: Identification

    /// Checks the root attributes `format` and `format_version` of an ld4mrec file.
    func requireFormat(_ name: String, version: Int, kind: String) throws {
        func fail(_ message: String) -> LD4MRecError { .invalidFile("'\(path)': \(message)") }
        guard let format = try readString("/", "format") else {
            throw fail("not an ld4mrec \(kind) file (no 'format' attribute on the root group)")
        }
        guard format == name else { throw fail("format is '\(format)', expected '\(name)'") }
        guard let found = try readNumber("/", "format_version") else { throw fail("no 'format_version' attribute") }
        guard found == Double(version) else {
            throw LD4MRecError(.unsupportedVersion,
                               "'\(path)': \(kind) format version \(found) is not supported (this library reads version \(version))")
        }
    }

    // MARK: Attributes (scalars on groups)

    /// Opens a scalar attribute, or returns nil when the object has no such attribute.
    private func openAttribute(_ object: String, _ name: String) throws -> hid_t? {
        guard exists(object) || object == "/" else { throw LD4MRecError.invalidFile("\(describe(object)): group is missing") }
        guard H5Aexists_by_name(id, object, name, ld4mrec_h5p_default()) > 0 else { return nil }
        let attribute = H5Aopen_by_name(id, object, name, ld4mrec_h5p_default(), ld4mrec_h5p_default())
        guard attribute >= 0 else { throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be opened") }
        let space = H5Aget_space(attribute)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else {
            H5Aclose(attribute)
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' must be a scalar")
        }
        return attribute
    }

    /// An integer attribute, exactly (a float attribute holding an integral value is
    /// accepted too).
    func readInteger(_ object: String, _ name: String) throws -> Int64? {
        guard let attribute = try openAttribute(object, name) else { return nil }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        if H5Tget_class(type) == H5T_INTEGER {
            var value: Int64 = 0
            guard H5Aread(attribute, ld4mrec_h5t_native_int64(), &value) >= 0 else {
                throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be read")
            }
            return value
        }
        guard let number = try readNumber(object, name), number.rounded() == number, abs(number) < 0x1p62 else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' must be an integer")
        }
        return Int64(number)
    }

    /// A numeric attribute (any integer or float type) as Double.
    func readNumber(_ object: String, _ name: String) throws -> Double? {
        guard let attribute = try openAttribute(object, name) else { return nil }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_INTEGER || typeClass == H5T_FLOAT else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' must be a number")
        }
        if typeClass == H5T_INTEGER {
            var value: Int64 = 0
            guard H5Aread(attribute, ld4mrec_h5t_native_int64(), &value) >= 0 else {
                throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be read")
            }
            return Double(value)
        }
        var value: Double = 0
        guard H5Aread(attribute, ld4mrec_h5t_native_double(), &value) >= 0 else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be read")
        }
        return value
    }

    /// A string attribute, variable-length (as h5py writes `str`) or fixed-length.
    func readString(_ object: String, _ name: String) throws -> String? {
        guard let attribute = try openAttribute(object, name) else { return nil }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' must be a string")
        }
        let memoryType = H5Tcopy(ld4mrec_h5t_c_s1())
        defer { H5Tclose(memoryType) }
        if H5Tis_variable_str(type) > 0 {
            H5Tset_size(memoryType, ld4mrec_h5t_variable())
            H5Tset_cset(memoryType, H5Tget_cset(type))
            var pointer: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(attribute, memoryType, &pointer) >= 0 else {
                throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be read")
            }
            defer { if let pointer { H5free_memory(pointer) } }
            return pointer.map { String(cString: $0) } ?? ""
        }
        let size = H5Tget_size(type)
        guard size > 0, size < 1 << 20 else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' has an unsupported size")
        }
        H5Tset_size(memoryType, size)
        var buffer = [UInt8](repeating: 0, count: size + 1)
        guard H5Aread(attribute, memoryType, &buffer) >= 0 else {
            throw LD4MRecError.invalidFile("\(describe(object)): attribute '\(name)' cannot be read")
        }
        let text = buffer.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self).trimmingTrailingSpaces()
    }

    private func writeAttribute(_ object: String, _ name: String, type: hid_t, _ value: UnsafeRawPointer) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate_by_name(id, object, name, type, space, ld4mrec_h5p_default(),
                                          ld4mrec_h5p_default(), ld4mrec_h5p_default())
        guard attribute >= 0 else { throw LD4MRecError(.io, "\(describe(object)): cannot create attribute '\(name)'") }
        defer { H5Aclose(attribute) }
        guard H5Awrite(attribute, type, value) >= 0 else {
            throw LD4MRecError(.io, "\(describe(object)): cannot write attribute '\(name)'")
        }
    }

    func writeInteger(_ object: String, _ name: String, _ value: Int64) throws {
        var value = value
        try writeAttribute(object, name, type: ld4mrec_h5t_native_int64(), &value)
    }

    func writeDouble(_ object: String, _ name: String, _ value: Double) throws {
        var value = value
        try writeAttribute(object, name, type: ld4mrec_h5t_native_double(), &value)
    }

    /// Writes a variable-length UTF-8 string, as h5py does for `str`.
    func writeString(_ object: String, _ name: String, _ value: String) throws {
        let type = H5Tcopy(ld4mrec_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, ld4mrec_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        try value.withCString { chars in
            var pointer: UnsafePointer<CChar>? = chars
            try writeAttribute(object, name, type: type, &pointer)
        }
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
