import Foundation

/// Learning rate per step: linear warm-up from 0, constant, then an optional decay.
///
/// Steps count from 0. During `warmupSteps` the rate rises linearly to `baseRate` (reaching it
/// at step `warmupSteps`); from `decayStartStep` it decays over `decaySteps` steps to
/// `baseRate * finalScale` and stays there.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Decay: String, Sendable, Codable, CaseIterable {
        /// No decay: the base rate after warm-up.
        case none
        /// Straight line to the final rate.
        case linear
        /// Half cosine to the final rate.
        case cosine
        /// Quadratic polynomial to the final rate, as the DLRM reference's scheduler.
        case polynomial
    }

    public var baseRate: Float
    public var warmupSteps: Int
    public var decay: Decay
    public var decayStartStep: Int
    public var decaySteps: Int
    public var finalScale: Float

    public init(baseRate: Float, warmupSteps: Int = 0, decay: Decay = .none, decayStartStep: Int = 0,
                decaySteps: Int = 0, finalScale: Float = 0) {
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.decay = decay
        self.decayStartStep = decayStartStep
        self.decaySteps = decaySteps
        self.finalScale = finalScale
    }

    public func rate(atStep step: Int) -> Float {
        if step < warmupSteps {
            return baseRate * Float(step + 1) / Float(warmupSteps + 1)
        }
        guard decay != .none, decaySteps > 0, step >= decayStartStep else { return baseRate }
        let progress = min(1, Double(step - decayStartStep) / Double(decaySteps))
        let remaining: Double
        switch decay {
        case .none: remaining = 1
        case .linear: remaining = 1 - progress
        case .cosine: remaining = 0.5 * (1 + cos(Double.pi * progress))
        case .polynomial: remaining = (1 - progress) * (1 - progress)
        }
        return baseRate * (finalScale + (1 - finalScale) * Float(remaining))
    }
}
