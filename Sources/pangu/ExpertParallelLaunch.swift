// `--expert-parallel`: every rank loads its slice of the model; rank 0 returns a `LoadedModel` whose model is the
// distributed wrapper and runs the command, the other ranks serve forward steps until rank 0 is done, then exit.
// MPI starts only here (Docs/ExpertParallel.md, "Running it").
import ArgumentParser
import Foundation
import PanguDistributed
import PanguEngine
import PanguModels
import PanguParallel
import PanguTensor

extension ModelOptions {
    /// Loads the model for a command: whole in this process, or this rank's slice under `--expert-parallel`.
    /// On ranks other than 0 it never returns: they follow rank 0's steps and exit when it shuts down.
    func load() throws -> LoadedModel {
        try ExpertParallelLaunch.load(path: model, expertParallel: expertParallel, cacheType: cacheType)
    }

    /// Ends an expert-parallel run on rank 0 (the followers exit); nothing for a single process.
    func finish(_ loaded: LoadedModel) { ExpertParallelLaunch.finish(loaded) }
}

enum ExpertParallelLaunch {
    /// Loads the model for a command: whole in this process, or this rank's slice with `expertParallel`.
    /// On ranks other than 0 it never returns: they follow rank 0's steps and exit when it shuts down.
    static func load(path: String?, expertParallel: Bool, quiet: Bool = false, cacheType: String = "f32") throws
        -> LoadedModel
    {
        guard expertParallel else {
            try refuseLauncherWithoutFlag()
            return try ModelOptions.load(path: path, quiet: quiet, cacheType: cacheType)
        }
        guard let type = KVElementType(rawValue: cacheType) else {
            throw ValidationError("--cache-type must be one of f32, f16, q8_0 (got '\(cacheType)')")
        }
        return try loadSplit(path: path, cacheType: type)
    }

    /// Throws when an MPI launcher started several copies of a command that was not given `--expert-parallel`.
    static func refuseLauncherWithoutFlag() throws {
        if let n = Communicator.launcherWorldSize, n > 1 {
            // Said once, by the launcher's rank 0; the others just fail.
            let rank = ["OMPI_COMM_WORLD_RANK", "PMI_RANK"].lazy.compactMap { ProcessInfo.processInfo.environment[$0] }.first
            if let rank, rank != "0" { throw ExitCode.validationFailure }
            throw ValidationError("started by an MPI launcher with \(n) processes but without --expert-parallel: "
                + "every process would load and run the whole model on its own. Add --expert-parallel to split "
                + "the model across the processes, or run a single process without mpirun.")
        }
    }

    /// Ends an expert-parallel run on rank 0 (the followers exit); nothing for a single process.
    static func finish(_ loaded: LoadedModel) {
        guard let distributed = loaded.model as? ExpertParallelModel else { return }
        do { try distributed.shutdown() } catch {
            FileHandle.standardError.write(Data("pangu: shutting down the other ranks failed: \(error)\n".utf8))
        }
    }

    static func loadSplit(path: String?, cacheType: KVElementType) throws -> LoadedModel {
        let comm = try Communicator.world()
        let dir = try path.map { URL(fileURLWithPath: $0) } ?? BuiltinModel.directory()
        var loaded: LoadedModel?
        var failure: Error?
        do {
            // No prefault: each rank reads only the pages of its own slice, on first use.
            let l = try LoadedModel(directory: dir, prefault: false,
                                    options: ModelLoadOptions(cacheType: cacheType, shard: ExpertParallel.planner(comm)))
            guard l.model is PanguProMoE else {
                throw ValidationError("--expert-parallel: \(l.model.info.architecture) cannot be split across processes")
            }
            loaded = l
        } catch {
            failure = error
        }
        // Every rank learns whether all loaded, so none is left waiting in a collective for a rank that failed.
        let failed = try comm.allgather([failure == nil ? 0 : 1])
        if let failure, comm.rank == 0 || failed[0] == 0 {
            // A failure every rank shares (a bad split, a missing file) is printed once, by rank 0.
            FileHandle.standardError.write(Data("Error: \(comm.rank == 0 ? "" : "rank \(comm.rank): ")\(failure)\n".utf8))
        }
        guard failed.allSatisfy({ $0 == 0 }), let loaded, let model = loaded.model as? PanguProMoE else {
            try? comm.finalize()
            throw ExitCode.failure
        }
        try reportMemory(model, comm: comm)
        guard comm.rank == 0 else {
            do {
                try ExpertParallelFollower.run(model, channel: MPIStepChannel(comm))
                try comm.finalize()
            } catch {
                FileHandle.standardError.write(Data("pangu: rank \(comm.rank): \(error)\n".utf8))
                comm.abort(code: 1)
            }
            Foundation.exit(0)
        }
        return LoadedModel(loaded, model: ExpertParallelModel(local: model, channel: MPIStepChannel(comm)))
    }

    /// Rank 0 prints what every rank holds: weight bytes (file-backed + repacked/copied), experts, heads, rows.
    static func reportMemory(_ model: PanguProMoE, comm: Communicator) throws {
        guard let s = model.shard else { return }
        let i = model.info
        let mine = [i.totalWeightBytes, i.repackedBytes, i.kvBytesPerToken, i.weightBytes, s.experts.lowerBound,
                    s.experts.upperBound, s.kvHeads.lowerBound, s.kvHeads.upperBound, s.sharedRows.lowerBound,
                    s.sharedRows.upperBound, s.outputRows.lowerBound, s.outputRows.upperBound]
        let all = try comm.allgather(mine)
        guard comm.rank == 0 else { return }
        func gib(_ b: Int) -> String {
            b >= 1 << 30 ? String(format: "%.2f GiB", Double(b) / Double(1 << 30))
                : String(format: "%.2f MiB", Double(b) / Double(1 << 20))
        }
        var text = "expert parallel: \(comm.size) rank(s)\n"
        for r in 0..<comm.size {
            let v = Array(all[(r * mine.count)..<((r + 1) * mine.count)])
            text += "  rank \(r): weights \(gib(v[0])) (repacked \(gib(v[1]))), read per token \(gib(v[3])), "
                + "KV cache \(String(format: "%.1f", Double(v[2]) / 1024)) KiB/token; experts \(v[4])..<\(v[5]), KV heads \(v[6])..<\(v[7]), "
                + "shared rows \(v[8])..<\(v[9]), vocabulary rows \(v[10])..<\(v[11])\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
