import Testing
@testable import LD4MRecCore
@testable import LD4MRecStorage
#if canImport(Glibc)
import Glibc
#endif

/// `Hyperparameters.fields` drives the file reader and writer, `inspect` and `train`: each
/// entry must be complete and agree with the struct it describes and with docs/FORMAT.md.
@Suite struct HyperparameterTableTests {
    @Test func namesAndOptionsAreUniqueAndDocumented() throws {
        let fields = Hyperparameters.fields
        #expect(Set(fields.map(\.name)).count == fields.count)
        let options = fields.compactMap(\.option)
        #expect(Set(options).count == options.count)
        var path = #filePath
        for _ in 0 ..< 3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        let format = String(decoding: readBytes(path + "/docs/FORMAT.md"), as: UTF8.self)
        for field in fields { #expect(format.contains("`\(field.name)`"), "docs/FORMAT.md does not document \(field.name)") }
    }

    /// Every field, set to a non-default value through its command-line text, changes
    /// exactly its own member and survives a model-file round trip.
    @Test func everyFieldParsesAssignsAndRoundTrips() throws {
        let texts: [String: String] = [
            "hidden_size": "12", "svd_rank": "3", "step_embedding_size": "4", "n_blocks": "3", "film_hidden_size": "5",
            "leaky_relu_slope": "0.1", "n_steps": "7", "noise_scale": "0.05", "noise_min": "0.001",
            "soft_target_probability": "0.2", "soft_target_gamma": "0.3", "step_sampler": "uniform",
            "loss": "mse", "learning_rate": "0.01", "batch_size": "33", "max_epochs": "9", "patience": "4",
            "input_dropout": "0.25", "hidden_dropout": "0.1", "conditions_from_dropped_history": "false", "weight_decay": "0.0001",
            "svd_oversamples": "6", "svd_power_iterations": "2", "feature_standardization": "none",
            "item_item_prior": "none", "ease_lambda": "250", "ensemble_weight": "0.35",
            "item_item_neighbours": "33", "knn_popularity_exponent": "0.25", "choose_knn_popularity_exponent": "false",
            "choose_ease_lambda": "false", "seed": "\(UInt64.max - 1)", "n_cnets": "3",
            "distillation_weight": "0.5", "distillation_temperature": "2", "teacher_cnets": "5",
        ]
        #expect(Set(texts.keys) == Set(Hyperparameters.fields.map(\.name)), "a field without a test value")
        var h = Hyperparameters()
        for field in Hyperparameters.fields {
            let before = h
            try field.assign(try field.parse(texts[field.name]!), to: &h)
            #expect(h != before, "\(field.name) did not change")
            #expect(field.value(in: h) != field.value(in: before))
            try field.validate(h)
        }
        #expect(h.stepSampler == .uniform && h.seed == UInt64.max - 1 && h.ensembleWeight == 0.35 && !h.conditionsFromDroppedHistory)
        #expect(!h.chooseEaseLambda)
        var spec = smallSpec()
        spec.hyperparameters = h  // the weights follow the architecture fields
        var parameters = try ModelParameters.synthetic(spec)
        parameters.hyperparameters = h
        let dir = temporaryDirectory()
        try ModelFile.write(parameters, to: dir + "/m.h5")
        #expect(try ModelFile.read(from: dir + "/m.h5").hyperparameters == h)
    }

    @Test func valuesOutsideTheirRangeAreRefusedWithTheirName() throws {
        let cases = [("hidden_size", "0"), ("noise_scale", "0"), ("input_dropout", "1"), ("hidden_dropout", "1"), ("learning_rate", "-1"),
                     ("ensemble_weight", "1.5"), ("n_blocks", "65"), ("n_cnets", "0"),
                     ("knn_popularity_exponent", "-0.1"), ("distillation_weight", "-1"), ("distillation_temperature", "0"),
                     ("teacher_cnets", "65")]
        for (name, text) in cases {
            let field = try #require(Hyperparameters.field(named: name))
            var h = Hyperparameters()
            try field.assign(try field.parse(text), to: &h)
            expectError(.invalidArgument, containing: "\(name) must be in") { try field.validate(h) }
        }
        let loss = try #require(Hyperparameters.field(named: "loss"))
        expectError(.invalidArgument, containing: "loss: 'hinge' is not one of mse | multinomial") { _ = try loss.parse("hinge") }
        let seed = try #require(Hyperparameters.field(named: "seed"))
        expectError(.invalidArgument, containing: "seed: '-1'") { _ = try seed.parse("-1") }
    }
}
