import ArgumentParser

@main
struct RecsysDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recsys-dist",
        abstract: "Train and evaluate DLRM and Wide&Deep recommender models, data-parallel over MPI.",
        subcommands: [Train.self, Evaluate.self, Inspect.self, ShowConfig.self, Preprocess.self, Plan.self, Bench.self, BenchData.self])
}
