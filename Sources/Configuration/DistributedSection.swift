import Compute
import Distributed

/// How embedding tables are placed when several ranks train (`mpirun -np N`).
public struct DistributedSection: Codable, Sendable, Equatable {
    public var sharding: ShardingPlan.Strategy = .auto
    /// With `auto`: tables of at most this many rows are replicated on every rank.
    public var replicateMaxRows = 1000
    /// With `auto`: tables of at least this many rows are split by rows over all ranks.
    public var rowWiseMinRows = 1_000_000
    /// The precision rows and row gradients cross the all-to-all in.
    public var exchangePrecision: ExchangePrecision = .fp32
    /// Whether the next batch's embedding requests are exchanged while a step computes.
    public var pipeline = true
    /// How a GPU backend's ranks move device memory (`DeviceTransport`).
    public var deviceTransport: DeviceTransport = .nccl

    /// fp32, or a 16-bit format (rows and gradients rounded to it for the trip, fp32 again on arrival).
    public enum ExchangePrecision: String, Codable, Sendable, CaseIterable {
        case fp32, bf16, fp16

        public var format: HalfFormat? {
            switch self {
            case .fp32: nil
            case .bf16: .bf16
            case .fp16: .fp16
            }
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sharding
        case replicateMaxRows = "replicate_max_rows"
        case rowWiseMinRows = "row_wise_min_rows"
        case exchangePrecision = "exchange_precision"
        case pipeline
        case deviceTransport = "device_transport"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DistributedSection()
        sharding = try c.decodeIfPresent(ShardingPlan.Strategy.self, forKey: .sharding) ?? d.sharding
        replicateMaxRows = try c.decodeIfPresent(Int.self, forKey: .replicateMaxRows) ?? d.replicateMaxRows
        rowWiseMinRows = try c.decodeIfPresent(Int.self, forKey: .rowWiseMinRows) ?? d.rowWiseMinRows
        exchangePrecision = try c.decodeIfPresent(ExchangePrecision.self, forKey: .exchangePrecision) ?? d.exchangePrecision
        pipeline = try c.decodeIfPresent(Bool.self, forKey: .pipeline) ?? d.pipeline
        deviceTransport = try c.decodeIfPresent(DeviceTransport.self, forKey: .deviceTransport) ?? d.deviceTransport
    }
}
