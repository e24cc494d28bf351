#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

/// Adam (Kingma & Ba), with PyTorch's conventions: bias-corrected moments, eps added to
/// the corrected root, weight decay as an L2 term added to the gradient. The moments are
/// vectors of the parameters' layout: one step is one loop, which a team splits.
struct AdamOptimizer {
    let learningRate: Float
    let weightDecay: Float
    let beta1: Float = 0.9
    let beta2: Float = 0.999
    let epsilon: Float = 1e-8
    let firstMoment: ParameterVector
    let secondMoment: ParameterVector
    /// Steps taken, this one included: advance it before `update`.
    var step = 0

    init(for layout: ParameterLayout, learningRate: Double, weightDecay: Double) throws {
        self.learningRate = Float(learningRate)
        self.weightDecay = Float(weightDecay)
        firstMoment = try ParameterVector(zeros: layout)
        secondMoment = try ParameterVector(zeros: layout)
    }

    /// Member `team.rank`'s share of step `step`.
    func update(_ weights: ParameterVector, gradients: ParameterVector, team: Team) {
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2 = 1 - pow(beta2, Float(step))
        let share = team.share(of: weights.layout.count, granule: 4096)
        let o = share.lowerBound
        Kernels.adam(parameters: weights.buffer.pointer + o, gradients: gradients.buffer.pointer + o,
                     first: firstMoment.buffer.pointer + o, second: secondMoment.buffer.pointer + o, count: share.count,
                     stepSize: learningRate / correction1, rootCorrection: correction2.squareRoot(),
                     beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }
}
