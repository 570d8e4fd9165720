import Foundation
import Testing
import Training

@Suite struct MetricsTests {
    @Test func aucOfPerfectInverseAndKnownRankings() throws {
        #expect(try BinaryClassificationMetrics.auc(scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1]) == 1)
        #expect(try BinaryClassificationMetrics.auc(scores: [0.9, 0.8, 0.2, 0.1], labels: [0, 0, 1, 1]) == 0)
        // Pairs (pos, neg): (0.35 vs 0.1 ✓, vs 0.4 ✗), (0.8 vs both ✓): 3 of 4.
        #expect(try BinaryClassificationMetrics.auc(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]) == 0.75)
    }

    @Test func tiesCountAsHalf() throws {
        #expect(try BinaryClassificationMetrics.auc(scores: [0.5, 0.5, 0.5, 0.5], labels: [0, 1, 0, 1]) == 0.5)
        // pos 0.5 vs neg 0.5 (tie: 1/2) and vs neg 0.1 (1); pos 0.9 beats both: (1.5 + 2) / 4.
        #expect(try BinaryClassificationMetrics.auc(scores: [0.5, 0.5, 0.1, 0.9], labels: [1, 0, 0, 1]) == 0.875)
    }

    @Test func oneClassIsAnError() throws {
        #expect(throws: MetricsError.singleClass(label: 1, count: 3)) {
            try BinaryClassificationMetrics.auc(scores: [0.1, 0.2, 0.3], labels: [1, 1, 1])
        }
        // The whole set's metrics go on without AUC (issue 29, item 31): logloss and accuracy stand.
        let metrics = try BinaryClassificationMetrics.compute(logits: [0.1, -0.2], labels: [0, 0])
        #expect(metrics.auc.isNaN && abs(metrics.logloss - (log1p(exp(0.1)) + log1p(exp(-0.2))) / 2) < 1e-6 && metrics.accuracy == 0.5)
        #expect(BinaryClassificationMetrics.text(auc: metrics.auc) == "undefined (one class)")
    }

    @Test func loglossAndAccuracy() throws {
        let metrics = try BinaryClassificationMetrics.compute(logits: [0, 2, -1], labels: [1, 1, 1 - 1])
        let expected = (log(2.0) + log(1 + exp(-2.0)) + log(1 + exp(-1.0))) / 3
        #expect(abs(metrics.logloss - expected) < 1e-9)
        #expect(metrics.accuracy == 1)
        #expect(metrics.auc == 1)
    }
}
