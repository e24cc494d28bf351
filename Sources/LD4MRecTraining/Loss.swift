#if canImport(Glibc)
import Glibc
#endif
import LD4MRecCore

extension Hyperparameters.Loss {
    /// The loss of a batch of predictions `out` (B x n) against `target`: the mean over
    /// users of `weight_u * loss_u`, each user's unweighted loss, and the gradient of the
    /// batch loss with respect to `out`.
    ///   mse:          loss_u = mean_i (out_ui - target_ui)^2
    ///   multinomial:  loss_u = -sum_i target_ui log softmax(out_u)_i
    func evaluate(_ out: Matrix, target: Matrix, weights: [Float]) -> (loss: Double, perUser: [Double], gradient: Matrix) {
        let (b, n) = (out.rows, out.cols)
        var perUser = [Double](repeating: 0, count: b)
        var gradient = Matrix(zeros: b, n)
        for r in 0 ..< b {
            let o = r * n
            let weight = weights[r]
            switch self {
            case .squaredError:
                var sum = 0.0
                for i in 0 ..< n {
                    let diff = out.values[o + i] - target.values[o + i]
                    sum += Double(diff * diff)
                    gradient.values[o + i] = 2 * weight * diff / Float(n * b)
                }
                perUser[r] = sum / Double(n)
            case .multinomial:
                var maximum = -Float.infinity
                for i in 0 ..< n { maximum = max(maximum, out.values[o + i]) }
                var total = 0.0
                for i in 0 ..< n { total += Double(exp(out.values[o + i] - maximum)) }
                let logNormalizer = Double(maximum) + log(total)
                var targetSum: Float = 0
                var value = 0.0
                for i in 0 ..< n {
                    let t = target.values[o + i]
                    targetSum += t
                    value -= Double(t) * (Double(out.values[o + i]) - logNormalizer)
                }
                for i in 0 ..< n {
                    let probability = Float(exp(Double(out.values[o + i]) - logNormalizer))
                    gradient.values[o + i] = weight * (probability * targetSum - target.values[o + i]) / Float(b)
                }
                perUser[r] = value
            }
        }
        let loss = zip(perUser, weights).reduce(0.0) { $0 + $1.0 * Double($1.1) } / Double(b)
        return (loss, perUser, gradient)
    }
}
