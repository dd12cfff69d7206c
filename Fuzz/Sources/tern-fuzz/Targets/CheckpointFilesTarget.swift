@testable import TernStorage

/// The text checkpoint files a broker reads from its log directories at start: the first input
/// byte picks a partition's `leader-epoch-checkpoint` (`LeaderEpochCheckpoint.parse`, even) or a
/// directory's offset checkpoint (`OffsetCheckpoint.parse`, odd: the recovery point, log start
/// offset and replication high-watermark files); the rest is the file.
///
/// Invariants: what parses is what the broker would write back (`serialize`), and that text
/// parses to the same entries and serializes to the same bytes; an accepted epoch history is
/// strictly increasing in epoch and start offset, with nothing negative, and the
/// `LeaderEpochCache` built from it keeps it whole and answers `epoch(at:)` and
/// `endOffset(for:logEndOffset:)` (OffsetForLeaderEpoch, a follower's divergence check) from it.
enum CheckpointFilesTarget {
    static let target = FuzzTarget(
        name: "checkpoint-files", maxLength: 2048,
        summary: "leader-epoch-checkpoint and offset checkpoint files (LeaderEpochCheckpoint/OffsetCheckpoint.parse)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let bytes = [UInt8](input.dropFirst())
        if input[0] % 2 == 0 { leaderEpochs(bytes) } else { offsets(bytes) }
    }

    private static func leaderEpochs(_ bytes: [UInt8]) {
        guard let entries = try? LeaderEpochCheckpoint.parse(bytes, path: "fuzz") else { return }
        for (previous, entry) in zip(entries, entries.dropFirst()) {
            fuzzCheck(
                entry.epoch > previous.epoch && entry.startOffset > previous.startOffset,
                "accepted \(entry) after \(previous)")
        }
        fuzzCheck(entries.allSatisfy { $0.epoch >= 0 && $0.startOffset >= 0 }, "accepted a negative entry")
        let written = LeaderEpochCheckpoint.serialize(entries)
        let again: [EpochEntry]
        do {
            again = try LeaderEpochCheckpoint.parse(written, path: "fuzz")
        } catch {
            fuzzFail("leader-epoch-checkpoint: its own text does not parse: \(error)")
        }
        fuzzCheck(again == entries, "leader-epoch-checkpoint: parse∘serialize changed the entries")
        fuzzCheck(LeaderEpochCheckpoint.serialize(again) == written, "leader-epoch-checkpoint: text is not stable")
        // The cache the loader builds from it keeps every entry and answers from them.
        let cache = LeaderEpochCache(entries)
        fuzzCheck(cache.entries == entries, "the cache dropped entries of a checkpoint that parsed")
        let logEnd = entries.last.map { $0.startOffset == .max ? .max : $0.startOffset + 1 } ?? 0
        for (i, entry) in entries.enumerated() {
            fuzzCheck(
                cache.epoch(at: entry.startOffset) == entry.epoch, "epoch(at: \(entry.startOffset)) is not \(entry)")
            let end = i + 1 < entries.count ? entries[i + 1].startOffset : logEnd
            fuzzCheck(
                cache.endOffset(for: entry.epoch, logEndOffset: logEnd)
                    == EpochEndOffset(epoch: entry.epoch, endOffset: end),
                "endOffset(for: \(entry.epoch)) does not end at \(end)")
        }
    }

    private static func offsets(_ bytes: [UInt8]) {
        guard let offsets = try? OffsetCheckpoint.parse(bytes, path: "fuzz") else { return }
        fuzzCheck(
            offsets.allSatisfy { $0.key.partition >= 0 && $0.value >= 0 && !$0.key.topic.isEmpty },
            "accepted a negative partition or offset, or an empty topic")
        let written = Array(OffsetCheckpoint.serialize(offsets).utf8)
        let again: [TopicPartition: Int64]
        do {
            again = try OffsetCheckpoint.parse(written, path: "fuzz")
        } catch {
            fuzzFail("offset checkpoint: its own text does not parse: \(error)")
        }
        fuzzCheck(again == offsets, "offset checkpoint: parse∘serialize changed the offsets")
        fuzzCheck(Array(OffsetCheckpoint.serialize(again).utf8) == written, "offset checkpoint: text is not stable")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let epochs = LeaderEpochCheckpoint.serialize([
            EpochEntry(epoch: 0, startOffset: 0), EpochEntry(epoch: 3, startOffset: 120),
            EpochEntry(epoch: 4, startOffset: 9_000_000_000),
        ])
        let offsets = OffsetCheckpoint.serialize([
            TopicPartition("orders", 0): 120, TopicPartition("orders", 1): 0,
            TopicPartition("__consumer_offsets", 7): 42,
        ])
        return [
            ("leader-epochs", [0] + epochs),
            ("leader-epochs-empty", [0] + LeaderEpochCheckpoint.serialize([])),
            ("offsets", [1] + Array(offsets.utf8)),
            ("offsets-empty", [1] + Array(OffsetCheckpoint.serialize([:]).utf8)),
        ]
    }
}
