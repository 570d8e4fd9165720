import Foundation
import Testing
import TestSupport

/// Dynamic tables end to end with real `mpirun`: tables whose rows are found by raw id, with
/// fewer rows than ids (so rows are evicted and ids wait for admission), train the same model on
/// 1, 2 and 3 ranks, resume bit for bit, and a checkpoint of 2 ranks resumes on 3; `evaluate`
/// gives unseen ids the default row; h5dump reads the keys the checkpoint holds.
@Suite(.serialized) struct DynamicTableTests {
    let scratch = ScratchFolder("recsys-dynamic")
    var folder: String { scratch.path }

    /// Tables 0, 2 and 4 dynamic: 256 rows in buckets of 16 for 1,500 distinct ids each.
    func config() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/dynamic.yaml"
        try """
            model:
              architecture: dlrm
              embedding_dimension: 8
              table_count: 5
              table_rows: [dynamic, 3000, dynamic, 80, dynamic]
              dynamic_tables: {capacity: 256, bucket_rows: 16, min_count: 2, eviction: lru}
              bottom_mlp: [16, 8]
              top_mlp: [16, 1]
              deep_mlp: [16, 1]
            data:
              ids_per_sample: 2
              synthetic: {train_samples: 4000, eval_samples: 1000, dynamic_ids: 1500}
            training:
              batch_size: 250
              log_every: 1
              optimizer: {algorithm: adagrad, learning_rate: 0.05}
            checkpoint:
              directory: \(folder)/runs
            distributed:
              replicate_max_rows: 100
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Run {
        let losses: [Double]
        let dense: Double
        let embeddings: Double
        let auc: Double
        let standardError: String
    }

    func train(ranks: Int, _ overrides: [String], resume: String? = nil) throws -> Run {
        let arguments = ["train", "--config", try config(), "--format", "json", "--fingerprints"] + overrides.flatMap { ["--set", $0] }
            + (resume.map { ["--resume", $0] } ?? [])
        let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
        try #require(output.status == 0, "\(ranks) ranks: \(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        return Run(losses: json["losses"] as! [Double], dense: json["dense_fingerprint"] as! Double,
                   embeddings: json["embedding_fingerprint"] as! Double, auc: json["auc"] as! Double,
                   standardError: output.standardError)
    }

    func expectClose(_ a: Double, _ b: Double, relative: Double, _ what: String) {
        #expect(abs(a - b) <= relative * max(abs(a), abs(b), 1e-3), "\(what): \(a) vs \(b)")
    }

    /// The ids of every dynamic table are resolved in the order of their first appearance in the
    /// global batch on any number of ranks, so admissions and evictions are the same: the runs
    /// agree as fixed tables' runs do (float rounding of the sums).
    @Test(arguments: ["dlrm", "wide_deep"], ["lru", "lfu"])
    func sameModelWhateverTheNumberOfRanks(architecture: String, eviction: String) throws {
        let overrides = ["model.architecture=\(architecture)", "model.dynamic_tables.eviction=\(eviction)",
                         "checkpoint.save_final=false"]
        let single = try train(ranks: 1, overrides)
        #expect(single.losses.count == 16)
        for ranks in [2, 3] {
            let multi = try train(ranks: ranks, overrides)
            for (step, (a, b)) in zip(single.losses, multi.losses).enumerated() {
                expectClose(a, b, relative: 2e-6, "\(architecture)/\(eviction) \(ranks) ranks, loss of step \(step + 1)")
            }
            expectClose(single.dense, multi.dense, relative: 1e-3, "\(architecture)/\(eviction) \(ranks) ranks, dense")
            expectClose(single.embeddings, multi.embeddings, relative: 2e-5, "\(architecture)/\(eviction) \(ranks) ranks, embeddings")
            expectClose(single.auc, multi.auc, relative: 1e-5, "\(architecture)/\(eviction) \(ranks) ranks, AUC")
        }
    }

    /// With the next batch's keys exchanged during each step (`distributed.pipeline`, the
    /// default), owners still resolve them, admitting and evicting, after the step's update:
    /// the same bits as without the pipeline.
    @Test(arguments: ["dlrm", "wide_deep"])
    func pipelinedExchangeChangesNoBits(architecture: String) throws {
        let overrides = ["model.architecture=\(architecture)", "checkpoint.save_final=false"]
        let plain = try train(ranks: 2, overrides + ["distributed.pipeline=false"])
        let pipelined = try train(ranks: 2, overrides)
        #expect(pipelined.losses == plain.losses && pipelined.auc == plain.auc)
        #expect(pipelined.dense == plain.dense && pipelined.embeddings == plain.embeddings)
    }

    /// Stopped at step 8 and resumed: the keys, stamps, counts and sketch come back with the
    /// rows, so the resumed run evicts and admits as the uninterrupted one, bit for bit; on 3
    /// ranks from 2 ranks' checkpoint, to float rounding.
    @Test func resumeIsExactAndReshards() throws {
        let straight = try train(ranks: 2, ["checkpoint.run_name=straight"])
        _ = try train(ranks: 2, ["checkpoint.run_name=split", "training.max_steps=8"])
        let exact = try resume(ranks: 2, run: "split")
        #expect(exact.losses == Array(straight.losses.suffix(8)))
        #expect(exact.auc == straight.auc)
        let three = try resume(ranks: 3, run: "split")
        #expect(three.standardError.contains("written by 2 rank(s), loaded on 3"))
        for (a, b) in zip(three.losses, straight.losses.suffix(8)) { expectClose(a, b, relative: 2e-6, "3 ranks from 2") }
        expectClose(three.auc, straight.auc, relative: 1e-5, "3 ranks from 2, AUC")
    }

    /// Dynamic tables stored in bf16, Adagrad's sums too: a key's new row starts from its key's
    /// values rounded to nearest, and the stochastic rounding of updates is keyed by the global
    /// row, which a key gets whatever the number of ranks. So 1, 2 and 3 ranks train the same model
    /// as fixed bf16 tables do (a sum's last bit may round a value the other way), and a run
    /// stopped at step 8 resumes bit for bit.
    @Test(arguments: ["dlrm", "wide_deep"])
    func bfloat16DynamicTables(architecture: String) throws {
        let overrides = ["model.architecture=\(architecture)", "model.table_precision=bf16",
                         "training.optimizer.table_state_precision=bf16"]
        let fp32 = try train(ranks: 1, ["model.architecture=\(architecture)", "checkpoint.save_final=false"])
        let single = try train(ranks: 1, overrides + ["checkpoint.save_final=false"])
        #expect(single.embeddings != fp32.embeddings, "bf16 rows train otherwise than fp32 rows")
        expectClose(single.auc, fp32.auc, relative: 0.02, "\(architecture): bf16 against fp32 rows, AUC")
        for ranks in [2, 3] {
            let multi = try train(ranks: ranks, overrides + ["checkpoint.save_final=false"])
            for (step, (a, b)) in zip(single.losses, multi.losses).enumerated() {
                expectClose(a, b, relative: 2e-6, "\(architecture) bf16, \(ranks) ranks, loss of step \(step + 1)")
            }
            expectClose(single.dense, multi.dense, relative: 1e-3, "\(architecture) bf16, \(ranks) ranks, dense")
            expectClose(single.embeddings, multi.embeddings, relative: 2e-4, "\(architecture) bf16, \(ranks) ranks, embeddings")
            expectClose(single.auc, multi.auc, relative: 1e-5, "\(architecture) bf16, \(ranks) ranks, AUC")
        }
        let run = "bf16-\(architecture)"
        let straight = try train(ranks: 2, overrides + ["checkpoint.run_name=\(run)-straight"])
        _ = try train(ranks: 2, overrides + ["checkpoint.run_name=\(run)", "training.max_steps=8"])
        let resumed = try train(ranks: 2, overrides + ["checkpoint.run_name=\(run)", "checkpoint.save_final=false"],
                                resume: "\(folder)/runs/\(run)/step-8")
        #expect(resumed.losses == Array(straight.losses.suffix(8)))
        #expect(resumed.auc == straight.auc && resumed.embeddings == straight.embeddings)
    }

    /// `evaluate` finds the rows ids have and gives unseen ids their bucket's default row,
    /// admitting nothing: the checkpoint scores the held-out set as training did, on 1 and 2
    /// ranks. Every row but the buckets' default rows holds a distinct key (more ids than rows),
    /// read back by h5dump from the whole-table dataset.
    @Test func evaluationAndTheKeysInTheCheckpoint() throws {
        let trained = try train(ranks: 2, ["checkpoint.run_name=evaluated"])
        let checkpoint = "\(folder)/runs/evaluated/latest"
        for ranks in [1, 2] {
            let arguments = ["evaluate", "--checkpoint", checkpoint, "--format", "json"]
            let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
            try #require(output.status == 0, "\(output.standardError)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
            expectClose(json["auc"] as! Double, trained.auc, relative: 1e-6, "evaluate on \(ranks) rank(s)")
        }
        for table in [0, 2, 4] {
            let dump = Process()
            dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            dump.arguments = ["h5dump", "-d", "/embeddings/table\(table)/keys", "-y", "-w", "0", "\(checkpoint)/dense.h5"]
            let pipe = Pipe()
            dump.standardOutput = pipe
            try dump.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            dump.waitUntilExit()
            #expect(dump.terminationStatus == 0)
            let data = try #require(text.range(of: "DATA {").map { text[$0.upperBound...] })
            let keys = data.split(whereSeparator: { ", \n}".contains($0) }).compactMap { UInt64($0) }
            #expect(keys.count == 256, "table \(table): a key per row")
            let held = keys.filter { $0 != UInt64.max }
            #expect(held.count == 256 - 16 && Set(held).count == held.count && held.allSatisfy { $0 < 1500 },
                    "table \(table): every row but the 16 default rows holds a distinct id")
        }
    }

    func resume(ranks: Int, run: String) throws -> Run {
        try train(ranks: ranks, ["checkpoint.run_name=\(run)", "checkpoint.save_final=false"], resume: "\(folder)/runs/\(run)/step-8")
    }
}
