import Foundation
import Testing
import TestSupport

/// Issue 29, item 28: a checkpoint whose shard list names rows far beyond its table (1e12 rows
/// of a small file, the attributes' CRC recomputed so the checksum holds) made `evaluate` scan
/// instead of refusing. The checkpoint is a real one, rewritten with h5py.
@Suite(.serialized) struct CraftedCheckpointTests {
    let scratch = ScratchFolder("recsys-crafted")
    var folder: String { scratch.path }

    /// Rewrites `dense.h5`'s shard list with `rewrite` (Python over the list's lines) and
    /// recomputes `state_crc32c` over the attributes as recsys-dist does.
    func craft(_ dense: String, rewrite: String) throws {
        let script = """
            import h5py, sys
            def crc32c(data):
                crc = 0xFFFFFFFF
                for byte in data:
                    crc ^= byte
                    for _ in range(8):
                        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
                return crc ^ 0xFFFFFFFF
            def text(value):
                return value.decode() if isinstance(value, bytes) else str(value)
            with h5py.File(sys.argv[1], "r+") as f:
                a = f.attrs
                lines = [line.split(" ") for line in text(a["shards"]).split("\\n")]
                \(rewrite)
                shards = "\\n".join(" ".join(fields) for fields in lines)
                a["shards"] = shards
                numbers = " ".join(str(int(a[k])) for k in ["step", "epoch", "position_in_epoch", "samples_seen", "world_size",
                                                           "dense_optimizer_steps", "sparse_optimizer_steps"])
                state = "\\n".join([numbers, text(a["optimizer"]), text(a["lineage"]), text(a["config"]), shards])
                if "checkpoint_id" in a:
                    state += "\\n" + text(a["checkpoint_id"])
                a["state_crc32c"] = crc32c(state.encode())
            """
        try script.write(toFile: "\(folder)/craft.py", atomically: true, encoding: .utf8)
        let crafted = try BinaryRunner.run(executable: TestPaths.packageRoot + "/.venv-test/bin/python", ["\(folder)/craft.py", dense])
        try #require(crafted.status == 0, "\(crafted.standardError)")
    }

    @Test func aShardListPastItsTableIsRefusedAtOnce() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let trained = try BinaryRunner.run(["train", "--config", TestPaths.packageRoot + "/configs/quickstart.yaml",
                                            "--set", "data.synthetic.train_samples=2000", "--set", "data.synthetic.eval_samples=500",
                                            "--set", "checkpoint.directory=\(folder)", "--set", "checkpoint.run_name=crafted",
                                            "--set", "run.record=false", "--set", "training.log_every=0"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let checkpoint = "\(folder)/crafted/latest"
        let before = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint])
        try #require(before.status == 0, "\(before.standardError)")

        // The first block: a trillion rows.
        try craft("\(checkpoint)/dense.h5", rewrite: "lines[0][3] = str(10 ** 12)")
        let started = Date()
        let refused = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("rows 0..<1000000000000 of embeddings/table0, which has 1000 rows (the shard list is wrong)"),
                "\(refused.standardError)")
        #expect(Date().timeIntervalSince(started) < 60, "refused before reading rows")

        // A block moved past the end of its table, and a file outside the checkpoint.
        try craft("\(checkpoint)/dense.h5", rewrite: "lines[0][3] = '1000'; lines[0][2] = '999'")
        let shifted = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint])
        #expect(shifted.status != 0 && shifted.standardError.contains("rows 999..<1999 of embeddings/table0"), "\(shifted.standardError)")
        try craft("\(checkpoint)/dense.h5", rewrite: "lines[0][2] = '0'; lines[0][0] = '../embeddings-rank0.h5'")
        let outside = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint])
        #expect(outside.status != 0 && outside.standardError.contains("outside the checkpoint"), "\(outside.standardError)")
    }
}
