import LD4MRecCore

/// Where one tensor lives in a flat parameter vector: `rows x cols` floats (row-major) from
/// `offset`.
struct Slot {
    let offset: Int
    let rows: Int
    let cols: Int
    var count: Int { rows * cols }
}

/// A dense layer's weight (out x in) and bias.
struct DenseSlot {
    let weight: Slot
    let bias: Slot
    var outputs: Int { weight.rows }
    var inputs: Int { weight.cols }
}

/// `fc2(leaky_relu(fc1(p)))`.
struct FiLMSlot {
    let fc1: DenseSlot
    let fc2: DenseSlot
}

struct BlockSlot {
    /// W1 on [h ; z], W2 on c_u, W3 on z.
    let hidden: DenseSlot
    let condition: DenseSlot
    let gate: DenseSlot
    /// Per modality.
    let scale: [FiLMSlot]
    let shift: [FiLMSlot]
}

/// The learned part of a model laid out as one float vector: the C-Net's weights and the
/// per-user z_in table. Parameters, their gradients and Adam's moments are vectors of one
/// layout, so that the optimiser is a single loop any team can split.
struct ParameterLayout {
    let input: DenseSlot
    let blocks: [BlockSlot]
    let output: DenseSlot
    /// z_in (n_users x d_f).
    let zIn: Slot
    let count: Int

    init(_ p: ModelParameters) {
        var next = 0
        func slot(_ rows: Int, _ cols: Int) -> Slot {
            // Every tensor on a cache line, so that BLAS sees the same alignment for each.
            defer { next += AlignedBuffer<Float>.paddedCount(rows * cols) }
            return Slot(offset: next, rows: rows, cols: cols)
        }
        func dense(_ layer: DenseLayer) -> DenseSlot {
            DenseSlot(weight: slot(layer.outputSize, layer.inputSize), bias: slot(1, layer.outputSize))
        }
        func film(_ network: FiLMNetwork) -> FiLMSlot { FiLMSlot(fc1: dense(network.fc1), fc2: dense(network.fc2)) }
        input = dense(p.input)
        blocks = p.blocks.map {
            BlockSlot(hidden: dense($0.hidden), condition: dense($0.condition), gate: dense($0.gate),
                      scale: $0.filmScale.map(film), shift: $0.filmShift.map(film))
        }
        output = dense(p.output)
        zIn = slot(p.zIn.rows, p.zIn.cols)
        count = next
    }

    /// Every tensor with the value it takes in `p`.
    func tensors(_ p: ModelParameters) -> [(Slot, [Float])] {
        func dense(_ slot: DenseSlot, _ layer: DenseLayer) -> [(Slot, [Float])] {
            [(slot.weight, layer.weight.values), (slot.bias, layer.bias)]
        }
        func film(_ slot: FiLMSlot, _ network: FiLMNetwork) -> [(Slot, [Float])] {
            dense(slot.fc1, network.fc1) + dense(slot.fc2, network.fc2)
        }
        var result = dense(input, p.input) + dense(output, p.output) + [(zIn, p.zIn.values)]
        for (slot, block) in zip(blocks, p.blocks) {
            result += dense(slot.hidden, block.hidden) + dense(slot.condition, block.condition) + dense(slot.gate, block.gate)
            for m in slot.scale.indices {
                result += film(slot.scale[m], block.filmScale[m]) + film(slot.shift[m], block.filmShift[m])
            }
        }
        return result
    }
}

/// A vector of a layout's floats, zero where no tensor lives (the padding).
final class ParameterVector: @unchecked Sendable {
    let layout: ParameterLayout
    let buffer: AlignedBuffer<Float>

    convenience init(zeros layout: ParameterLayout) throws {
        try self.init(uninitialized: layout)
        buffer.pointer.initialize(repeating: 0, count: layout.count)
    }

    convenience init(_ parameters: ModelParameters) throws {
        try self.init(zeros: ParameterLayout(parameters))
        for (slot, values) in layout.tensors(parameters) {
            values.withUnsafeBufferPointer { self[slot].update(from: $0.baseAddress!, count: slot.count) }
        }
    }

    private init(uninitialized layout: ParameterLayout) throws {
        self.layout = layout
        buffer = try AlignedBuffer(uninitialized: layout.count, hugePages: true)
    }

    func copy() throws -> ParameterVector {
        let result = try ParameterVector(uninitialized: layout)
        result.update(from: self)  // the padding too: zero here
        return result
    }

    /// This vector set to `other`'s values (the same layout).
    func update(from other: ParameterVector) {
        assert(other.layout.count == layout.count, "parameter vectors of different layouts")
        UnsafeMutableRawPointer(buffer.pointer).copyMemory(from: other.buffer.pointer, byteCount: layout.count * MemoryLayout<Float>.stride)
    }

    subscript(slot: Slot) -> UnsafeMutablePointer<Float> { buffer.pointer + slot.offset }

    var values: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: buffer.pointer, count: layout.count) }

    /// `parameters` with this vector's weights and z_in (z_in_default: the mean of z_in).
    func written(into parameters: ModelParameters) -> ModelParameters {
        var p = parameters
        func matrix(_ slot: Slot) -> Matrix {
            Matrix(unchecked: slot.rows, slot.cols, Array(UnsafeBufferPointer(start: self[slot], count: slot.count)))
        }
        func dense(_ slot: DenseSlot) -> DenseLayer { DenseLayer(weight: matrix(slot.weight), bias: matrix(slot.bias).values) }
        func film(_ slot: FiLMSlot) -> FiLMNetwork { FiLMNetwork(fc1: dense(slot.fc1), fc2: dense(slot.fc2)) }
        p.input = dense(layout.input)
        p.blocks = layout.blocks.map {
            CNetBlock(hidden: dense($0.hidden), condition: dense($0.condition), gate: dense($0.gate),
                      filmScale: $0.scale.map(film), filmShift: $0.shift.map(film))
        }
        p.output = dense(layout.output)
        p.zIn = matrix(layout.zIn)
        let (users, df) = (layout.zIn.rows, layout.zIn.cols)
        p.zInDefault = (0 ..< df).map { c in
            (0 ..< users).reduce(Float(0)) { $0 + p.zIn.values[$1 * df + c] } / Float(max(1, users))
        }
        return p
    }
}
