#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

/// The MMRec folder layout of a dataset: `<name>.inter` (tab-separated, with a header
/// naming at least `userID`, `itemID` and `x_label`: 0 train, 1 validation, 2 test) and
/// one `<modality>_feat.npy` per item modality (row i = item i). Ids are dense from 0.
extension Dataset {
    /// Reads `directory`. `modalityNames` selects and orders modalities (nil: every
    /// `*_feat.npy`, alphabetically; empty: none).
    public static func load(directory: String, modalityNames: [String]? = nil) throws -> Dataset {
        let files = try listDirectory(directory)
        let base = directory.split(separator: "/").last.map(String.init) ?? directory
        let interName: String
        if files.contains(base + ".inter") {
            interName = base + ".inter"
        } else {
            let candidates = files.filter { $0.hasSuffix(".inter") }
            guard candidates.count == 1 else {
                throw LD4MRecError(.io, "'\(directory)': expected one .inter file, found \(candidates.count)")
            }
            interName = candidates[0]
        }
        let available = files.filter { $0.hasSuffix("_feat.npy") }.map { String($0.dropLast("_feat.npy".count)) }.sorted()
        let names = modalityNames ?? available
        for name in names where !available.contains(name) {
            throw LD4MRecError(.io, "'\(directory)': no feature file '\(name)_feat.npy' (found: \(available.map { $0 + "_feat.npy" }))")
        }
        let modalities = try names.map { Modality(name: $0, features: try NPY.readMatrix("\(directory)/\($0)_feat.npy")) }

        let interactions = try readInteractions("\(directory)/\(interName)")
        // Dense ids, as the layout requires, bound what is allocated per user and item by
        // the size of the file: a stray large id is an error, not gigabytes of rows.
        guard interactions.users == interactions.maxUser + 1 else {
            throw LD4MRecError.invalidFile("'\(directory)/\(interName)': user ids must be dense from 0, but \(interactions.users) users have ids up to \(interactions.maxUser)")
        }
        // Without a feature file, the catalogue is the ids up to the largest: items without
        // interactions are gaps, but not most of it (a stray id must not allocate gigabytes).
        guard !modalities.isEmpty || interactions.maxItem < 2 * interactions.items + 1024 else {
            throw LD4MRecError.invalidFile("'\(directory)/\(interName)': item ids must be dense from 0 when no feature file lists the items, but \(interactions.items) items have ids up to \(interactions.maxItem)")
        }
        var itemCount = interactions.maxItem + 1
        for modality in modalities {
            guard modality.features.rows >= itemCount else {
                throw LD4MRecError.invalidFile("'\(directory)/\(modality.name)_feat.npy' has \(modality.features.rows) rows, but the interactions use item ids up to \(itemCount - 1)")
            }
            itemCount = max(itemCount, modality.features.rows)
        }
        if let first = modalities.first, let other = modalities.first(where: { $0.features.rows != first.features.rows }) {
            throw LD4MRecError.invalidFile("feature files disagree on the item count: \(first.name) has \(first.features.rows) rows, \(other.name) \(other.features.rows)")
        }
        let userCount = interactions.maxUser + 1
        func csr(_ label: Int) -> CSRHistories {
            var rows = [[Int32]](repeating: [], count: userCount)
            for (u, i, l) in interactions.triples where l == label { rows[u].append(Int32(i)) }
            return CSRHistories(rows: rows)
        }
        return Dataset(name: base, userCount: userCount, itemCount: itemCount, train: csr(0), validation: csr(1),
                       test: csr(2), modalities: modalities, duplicatesDropped: interactions.duplicates)
    }

    private static func readInteractions(_ path: String) throws
        -> (triples: [(Int, Int, Int)], maxUser: Int, maxItem: Int, users: Int, items: Int, duplicates: Int) {
        let bytes = try FileBytes.read(path)
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else { throw LD4MRecError.invalidFile("'\(path)': empty file") }
        let header = headerLine.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self).filter { $0 != "\r" && $0 != " " }
        }
        func column(_ name: String) throws -> Int {
            guard let index = header.firstIndex(where: { $0 == name || $0.hasPrefix(name + ":") }) else {
                throw LD4MRecError.invalidFile("'\(path)', line 1: header has no '\(name)' column (found \(header))")
            }
            return index
        }
        let (userColumn, itemColumn, labelColumn) = (try column("userID"), try column("itemID"), try column("x_label"))
        let needed = max(userColumn, itemColumn, labelColumn) + 1

        var triples: [(Int, Int, Int)] = []
        triples.reserveCapacity(lines.count)
        var seen = Set<Int>()
        var (users, items) = (Set<Int>(), Set<Int>())
        var duplicates = 0
        var (maxUser, maxItem) = (-1, -1)
        for (index, line) in lines.enumerated().dropFirst() {
            let lineNumber = index + 1
            var fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            if let last = fields.last, last.last == UInt8(ascii: "\r") { fields[fields.count - 1] = last.dropLast() }
            if fields.count == 1 && fields[0].isEmpty { continue }
            guard fields.count >= needed else {
                throw LD4MRecError.invalidFile("'\(path)', line \(lineNumber): \(fields.count) fields, expected at least \(needed)")
            }
            func integer(_ column: Int, _ name: String) throws -> Int {
                let text = fields[column]
                guard !text.isEmpty, text.count <= 12, text.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    throw LD4MRecError.invalidFile("'\(path)', line \(lineNumber): \(name) '\(String(decoding: text, as: UTF8.self))' is not a non-negative integer")
                }
                return text.reduce(0) { $0 * 10 + Int($1 - 48) }
            }
            let user = try integer(userColumn, "userID")
            let item = try integer(itemColumn, "itemID")
            let label = try integer(labelColumn, "x_label")
            guard label <= 2 else {
                throw LD4MRecError.invalidFile("'\(path)', line \(lineNumber): x_label \(label) is not 0, 1 or 2")
            }
            guard user < 1 << 31, item < 1 << 31 else {
                throw LD4MRecError.invalidFile("'\(path)', line \(lineNumber): id too large")
            }
            guard seen.insert(user << 32 | item).inserted else {
                duplicates += 1
                continue
            }
            triples.append((user, item, label))
            users.insert(user)
            items.insert(item)
            maxUser = max(maxUser, user)
            maxItem = max(maxItem, item)
        }
        guard !triples.isEmpty else { throw LD4MRecError.invalidFile("'\(path)': no interactions") }
        return (triples, maxUser, maxItem, users.count, items.count, duplicates)
    }

    /// Writes the dataset in the MMRec layout: `<folder>/<name>.inter` and
    /// `<folder>/<modality>_feat.npy`.
    public func write(to folder: String) throws {
        var text = "userID\titemID\tx_label\n"
        for (label, split) in [train, validation, test].enumerated() {
            for u in 0 ..< userCount {
                for item in split.row(u) { text += "\(u)\t\(item)\t\(label)\n" }
            }
        }
        try FileBytes.write(Array(text.utf8), to: "\(folder)/\(name).inter")
        for modality in modalities { try NPY.write(modality.features, to: "\(folder)/\(modality.name)_feat.npy") }
    }
}
