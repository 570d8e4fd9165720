import ArgumentParser

@main
struct RecsysDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recsys-dist",
        abstract: "Train, evaluate and export DLRM, Wide&Deep, DCNv2, DeepFM and BST (sequence transformer) recommender models, data-parallel over MPI.",
        subcommands: [Train.self, Evaluate.self, ExportModel.self, Inspect.self, ShowConfig.self, Generate.self, Preprocess.self, Plan.self, Bench.self, BenchData.self, BenchIndex.self, IndexItems.self, Retrieve.self, Devices.self,
                      CheckBackend.self])
}
