/// The compute backends a run can use, by the name `training.backend` gives them. The
/// configuration only names a backend; a new one (a GPU's) is added here, below it.
public enum BackendRegistry {
    public struct Entry: Sendable {
        /// Its value of `training.backend`.
        public let name: String
        /// One line: where the numbers live and the arithmetic runs.
        public let summary: String
        /// A backend whose matrix products run in `precision`.
        public let make: @Sendable (_ precision: MatmulPrecision) -> any ComputeBackend
    }

    public static let entries: [Entry] = [
        Entry(name: "cpu", summary: "host memory, OpenBLAS and the SIMD kernels",
              make: { CPUBackend(matmulPrecision: $0) }),
        Entry(name: "separate_memory",
              summary: "the CPU kernels over memory the host cannot address (every number crosses by an explicit copy): "
                  + "proves on a machine without a GPU that a run keeps the device discipline",
              make: { SeparateMemoryBackend(matmulPrecision: $0) }),
    ]

    /// The names `training.backend` takes.
    public static var names: [String] { entries.map(\.name) }

    /// The backend called `name` (one of `names`: the configuration is validated against them).
    public static func make(_ name: String, precision: MatmulPrecision = .fp32) -> any ComputeBackend {
        guard let entry = entries.first(where: { $0.name == name }) else {
            preconditionFailure("BackendRegistry: no backend '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return entry.make(precision)
    }
}
