import LD4MRecCore

extension ModelParameters {
    /// One C-Net whose output is `sum_j weights[j] * xhat0_j`, the weighted sum of the
    /// members' outputs, written as an ordinary C-Net `K` times as wide: every hidden unit
    /// belongs to one member, and the layers that mix units are block-diagonal (zeros
    /// between members). The file format and serving need nothing new, and any version of
    /// the library serves it; the price is the zeros, which make the hidden layers `K^2`
    /// times and the input and output layers `K` times a member's cost.
    ///
    /// The members must share the frozen signals (ids, SVD, degrees, processed features),
    /// so that `c_u` and `p_{u,m}` are the same input for all, and their architecture;
    /// they must not hold an item-item prior (mixing comes after).
    static func averaging(_ members: [ModelParameters], weights: [Float]) throws -> ModelParameters {
        guard let first = members.first, members.count == weights.count else {
            throw LD4MRecError.invalidArgument("averaging C-Nets needs at least one member and one weight per member")
        }
        let h = first.hyperparameters
        for member in members.dropFirst() {
            let m = member.hyperparameters
            guard (m.hiddenSize, m.stepEmbeddingSize, m.filmHiddenSize, m.blocks) == (h.hiddenSize, h.stepEmbeddingSize, h.filmHiddenSize, h.blocks),
                  member.itemIDs == first.itemIDs, member.userIDs == first.userIDs,
                  member.svdItemFactors == first.svdItemFactors, member.svdSingularValues == first.svdSingularValues,
                  member.itemDegrees == first.itemDegrees, member.modalities == first.modalities else {
                throw LD4MRecError.invalidArgument("averaged C-Nets must share their architecture and frozen signals")
            }
        }
        guard members.allSatisfy({ !$0.hasItemItemPrior }) else {
            throw LD4MRecError.invalidArgument("averaged C-Nets are mixed with the item-item prior after averaging, not before")
        }
        let (d, df) = (h.hiddenSize, h.stepEmbeddingSize)
        // W1 acts on [h ; z]: each member's h columns and z columns go to its own blocks.
        func hidden(_ layers: [DenseLayer]) -> DenseLayer {
            let onH = blockDiagonal(layers.map { $0.weight.columns(0 ..< d) })
            let onZ = blockDiagonal(layers.map { $0.weight.columns(d ..< d + df) })
            return DenseLayer(weight: sideBySide([onH, onZ], scales: [1, 1]), bias: layers.flatMap(\.bias))
        }
        // Inputs every member reads whole (x_in, c_u, p_{u,m}): the members' rows stacked.
        func stacked(_ layers: [DenseLayer]) -> DenseLayer {
            DenseLayer(weight: Matrix(unchecked: layers.count * layers[0].outputSize, layers[0].inputSize,
                                      layers.flatMap(\.weight.values)),
                       bias: layers.flatMap(\.bias))
        }
        // Inputs split by member (z, a FiLM MLP's hidden units): block-diagonal.
        func separate(_ layers: [DenseLayer]) -> DenseLayer {
            DenseLayer(weight: blockDiagonal(layers.map(\.weight)), bias: layers.flatMap(\.bias))
        }
        func film(_ networks: [FiLMNetwork]) -> FiLMNetwork {
            FiLMNetwork(fc1: stacked(networks.map(\.fc1)), fc2: separate(networks.map(\.fc2)))
        }
        let blocks = first.blocks.indices.map { s in
            let layers = members.map { $0.blocks[s] }
            return CNetBlock(hidden: hidden(layers.map(\.hidden)), condition: stacked(layers.map(\.condition)),
                             gate: separate(layers.map(\.gate)),
                             filmScale: first.modalities.indices.map { m in film(layers.map { $0.filmScale[m] }) },
                             filmShift: first.modalities.indices.map { m in film(layers.map { $0.filmShift[m] }) })
        }
        let outputs = members.map(\.output)
        var bias = [Float](repeating: 0, count: first.itemCount)
        for (layer, weight) in zip(outputs, weights) {
            for i in bias.indices { bias[i] += weight * layer.bias[i] }
        }
        let output = DenseLayer(weight: sideBySide(outputs.map(\.weight), scales: weights), bias: bias)

        var result = first
        result.hyperparameters.hiddenSize = members.count * d
        result.hyperparameters.stepEmbeddingSize = members.count * df
        result.hyperparameters.filmHiddenSize = members.count * h.filmHiddenSize
        result.hyperparameters.cnets = members.count
        result.input = stacked(members.map(\.input))
        result.blocks = blocks
        result.output = output
        result.zIn = sideBySide(members.map(\.zIn), scales: [Float](repeating: 1, count: members.count))
        result.zInDefault = members.flatMap(\.zInDefault)
        return result
    }
}

extension Matrix {
    /// Columns `range` of every row.
    func columns(_ range: Range<Int>) -> Matrix {
        var values: [Float] = []
        values.reserveCapacity(rows * range.count)
        for r in 0 ..< rows { values += self.values[r * cols + range.lowerBound ..< r * cols + range.upperBound] }
        return Matrix(unchecked: rows, range.count, values)
    }
}

/// `[s_1 M_1 | s_2 M_2 | ...]`: matrices of as many rows, side by side, each scaled.
private func sideBySide(_ matrices: [Matrix], scales: [Float]) -> Matrix {
    let rows = matrices[0].rows
    var values: [Float] = []
    values.reserveCapacity(rows * matrices.reduce(0) { $0 + $1.cols })
    for r in 0 ..< rows {
        for (m, scale) in zip(matrices, scales) { values += m.values[r * m.cols ..< (r + 1) * m.cols].map { scale * $0 } }
    }
    return Matrix(unchecked: rows, matrices.reduce(0) { $0 + $1.cols }, values)
}

/// `diag(M_1, M_2, ...)`, zeros off the diagonal blocks.
private func blockDiagonal(_ matrices: [Matrix]) -> Matrix {
    let cols = matrices.reduce(0) { $0 + $1.cols }
    var result = Matrix(zeros: matrices.reduce(0) { $0 + $1.rows }, cols)
    var (top, left) = (0, 0)
    for m in matrices {
        for r in 0 ..< m.rows {
            let start = (top + r) * cols + left
            result.values.replaceSubrange(start ..< start + m.cols, with: m.values[r * m.cols ..< (r + 1) * m.cols])
        }
        (top, left) = (top + m.rows, left + m.cols)
    }
    return result
}
