import Configuration
import DataPipeline
import Datasets
import NeuralNetwork
import Planning
import Testing
import Training

/// What training a multitask ranker adds to the step and the evaluator: each task's loss weight,
/// and the gates' mean weights.
@Suite struct MultitaskTrainingTests {
    static func configuration(_ overrides: [String] = []) throws -> TrainingConfiguration {
        try ConfigurationLoader.parse("""
            model: {architecture: mmoe, embedding_dimension: 4, table_count: 3, table_rows: 40, experts: 3,
                    expert_mlp: [8, 6], tower_mlp: [5, 1]}
            data: {dense_features: 2, synthetic: {train_samples: 200, eval_samples: 90, tasks: [click, like]}}
            training: {batch_size: 50, optimizer: {algorithm: adagrad}}
            """, source: "multitask.yaml", overrides: overrides)
    }

    /// A task's weight scales its gradient and its part of the loss: with like's weight 2, like's
    /// tower receives exactly twice the gradient (a power of 2 scales every product exactly) and
    /// click's tower the same; the loss is click's plus twice like's.
    @Test func lossWeightsScaleEachTasksGradient() throws {
        let configuration = try Self.configuration()
        let model = try ModelFactory.makeModel(configuration, batchCapacity: 50) as! MultitaskRanker
        let loader = BatchLoader(dataset: try DataSplits.load(configuration).train, batchSize: 50, shuffleSeed: nil, dropLast: true)
        _ = try loader.next()
        func gradients(weights: [Float]) throws -> (loss: Double, taskLosses: [Double], towers: [[Float]]) {
            let step = TrainingStep(model: model, settings: ModelFactory.optimizerSettings(configuration), lossWeights: weights)
            let loss = try step.forward(loader.batch, globalBatchSize: 50)
            try step.backward(learningRate: 0.1)
            let all = model.arena.gradients.toArray()
            return (loss, step.taskLosses, model.towers.map { Array(all[$0.parameterRange]) })
        }
        let plain = try gradients(weights: [1, 1]), weighted = try gradients(weights: [1, 2])
        #expect(weighted.taskLosses == plain.taskLosses)
        #expect(abs(weighted.loss - (plain.taskLosses[0] + 2 * plain.taskLosses[1])) < 1e-12)
        #expect(weighted.towers[0] == plain.towers[0])
        #expect(weighted.towers[1] == plain.towers[1].map { 2 * $0 })
        #expect(plain.towers[1].contains { $0 != 0 })
        #expect(try Self.configuration(["training.loss_weights={like: 2}"]).lossWeights == [1, 2])
    }

    /// The weights print in task-name order whatever the file's order, and read back the same.
    @Test func lossWeightsPrintInOneOrder() throws {
        let a = try Self.configuration(["training.loss_weights={like: 2, click: 0.5}"])
        let b = try Self.configuration(["training.loss_weights={click: 0.5, like: 2}"])
        #expect(a == b)
        let yaml = try ConfigurationLoader.yaml(a)
        #expect(yaml.contains("  loss_weights:\n    click: 0.5\n    like: 2.0\n"), "\(yaml)")
        #expect(try ConfigurationLoader.parse(yaml, source: "printed") == a)
        #expect(a.lossWeights == [0.5, 2])
    }

    /// The evaluator averages each gate's weights over the held-out samples: MMoE's two gates
    /// over three experts, each summing to 1; an expert under 5% in every gate is reported unused.
    @Test func evaluationReportsTheGates() throws {
        let configuration = try Self.configuration()
        let model = try ModelFactory.makeModel(configuration, batchCapacity: 50)
        let metrics = try Evaluator.evaluate(model, on: try DataSplits.load(configuration).evaluation, batchSize: 50)
        #expect(metrics.gates.map(\.gate) == ["click", "like"])
        for gate in metrics.gates {
            #expect(gate.experts.map(\.expert) == ["expert0", "expert1", "expert2"])
            #expect(abs(gate.experts.map(\.weight).reduce(0, +) - 1) < 1e-5)
        }
        let usage = [
            GateUsage(gate: "click", level: 0, experts: [.init(expert: "expert0", weight: 0.97), .init(expert: "expert1", weight: 0.03)]),
            GateUsage(gate: "like", level: 0, experts: [.init(expert: "expert0", weight: 0.5), .init(expert: "expert1", weight: 0.5)]),
        ]
        #expect(GateUsage.unusedExperts(usage).isEmpty)
        var unused = usage
        unused[1].experts[1].weight = 0.01
        #expect(GateUsage.unusedExperts(unused) == ["expert1"])
    }
}
