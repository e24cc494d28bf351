extension ModelParameters {
    /// Checks every table against the hyperparameters and each other. Messages name the
    /// dataset as docs/FORMAT.md does, so that they read the same for files and for
    /// parameters built in memory.
    public func validate() throws {
        typealias P = TableName
        func fail(_ message: String) -> LD4MRecError { .invalidArgument(message) }
        let h = hyperparameters
        try h.validateArchitecture()
        let (n, d, k, df) = (itemCount, h.hiddenSize, h.svdRank, h.stepEmbeddingSize)

        guard n >= 1 else { throw fail("'\(P.itemIDs)' is empty: a model needs at least one item") }
        try requireUnique(itemIDs, P.itemIDs)
        try requireUnique(userIDs, P.userIDs)

        func shape(_ matrix: Matrix, _ name: String, _ rows: Int, _ cols: Int) throws {
            guard matrix.rows == rows, matrix.cols == cols else {
                throw fail("'\(name)' has shape (\(matrix.rows), \(matrix.cols)), expected (\(rows), \(cols))")
            }
            try finite(matrix.values, name)
        }
        func vector(_ values: [Float], _ name: String, _ count: Int) throws {
            guard values.count == count else { throw fail("'\(name)' has length \(values.count), expected \(count)") }
            try finite(values, name)
        }
        func finite(_ values: [Float], _ name: String) throws {
            if let bad = Kernels.firstNonFinite(values) {
                throw fail("'\(name)': value \(values[bad]) at flat index \(bad) is not finite")
            }
        }
        func dense(_ layer: DenseLayer, _ group: String, out: Int, in inputs: Int) throws {
            try shape(layer.weight, group + "/weight", out, inputs)
            try vector(layer.bias, group + "/bias", out)
        }

        try shape(svdItemFactors, P.svdItemFactors, n, k)
        try vector(svdSingularValues, P.svdSingularValues, k)
        guard svdSingularValues.allSatisfy({ $0 > 0 }) else {
            throw fail("'\(P.svdSingularValues)' must be positive (lower svd_rank for a matrix of lower rank)")
        }
        guard itemDegrees.count == n else { throw fail("'\(P.itemDegrees)' has length \(itemDegrees.count), expected \(n)") }
        guard itemDegrees.allSatisfy({ $0 >= 0 }) else { throw fail("'\(P.itemDegrees)' holds a negative degree") }

        var names = Set<String>()
        for (m, modality) in modalities.enumerated() {
            guard !modality.name.isEmpty, names.insert(modality.name).inserted else {
                throw fail("'\(P.modality(m))': modality names must be non-empty and distinct, got '\(modality.name)'")
            }
            guard modality.features.cols >= 1 else { throw fail("'\(P.features(m))' has no feature columns") }
            try shape(modality.features, P.features(m), n, modality.features.cols)
        }

        try dense(input, P.input, out: d, in: n)
        guard blocks.count == h.blocks else { throw fail("\(blocks.count) C-Net blocks, n_blocks says \(h.blocks)") }
        for (s, block) in blocks.enumerated() {
            try dense(block.hidden, P.cgHidden(s), out: d, in: d + df)
            try dense(block.condition, P.cgCondition(s), out: d, in: 2 * k)
            try dense(block.gate, P.cgGate(s), out: d, in: df)
            guard block.filmScale.count == modalities.count, block.filmShift.count == modalities.count else {
                throw fail("'\(P.block(s))/film' needs one scale and one shift network per modality (\(modalities.count))")
            }
            for m in 0 ..< modalities.count {
                for (network, group) in [(block.filmScale[m], P.filmScale(s, m)), (block.filmShift[m], P.filmShift(s, m))] {
                    try dense(network.fc1, group + "/fc1", out: h.filmHiddenSize, in: modalities[m].features.cols)
                    try dense(network.fc2, group + "/fc2", out: d, in: h.filmHiddenSize)
                }
            }
        }
        try dense(output, P.output, out: n, in: d)
        try shape(zIn, P.zIn, userCount, df)
        try vector(zInDefault, P.zInDefault, df)
        if let itemItem { try shape(itemItem, P.itemItem, n, n) }
        if let itemItemSparse { try itemItemSparse.validate(rows: n, group: P.itemItemSparse) }
        guard itemItem == nil || itemItemSparse == nil else {
            throw fail("a model holds '\(P.itemItem)' or '\(P.itemItemSparse)', not both")
        }
        guard cnetScale.isFinite, itemItemScale.isFinite, hasItemItemPrior || itemItemScale == 0 else {
            throw fail("score scales must be finite, and 'score_scale_item_item' 0 without an item-item prior")
        }

        if let histories {
            try CSRHistories.validate(offsets: histories.offsets, entries: histories.items, rows: userCount, itemCount: n,
                                      offsetsName: P.historyOffsets, entriesName: P.historyItems)
        }
    }

    private func requireUnique(_ ids: [Int64], _ name: String) throws {
        var seen = Set<Int64>(minimumCapacity: ids.count)
        for id in ids where !seen.insert(id).inserted {
            throw LD4MRecError.invalidArgument("'\(name)' holds id \(id) more than once")
        }
    }
}
