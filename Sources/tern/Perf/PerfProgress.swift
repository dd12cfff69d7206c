import Synchronization

/// The once-a-second progress line of `tern perf` on stderr: records (and bytes) so far and the
/// rate over the last second. Counting is two relaxed atomic adds per call; callers count per
/// batch where they can.
final class PerfProgress: Sendable {
    private let mode: String
    private let records = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(mode: String) { self.mode = mode }

    /// Records counted so far.
    var recordCount: Int { records.load(ordering: .relaxed) }
    /// Bytes counted so far.
    var byteCount: Int { bytes.load(ordering: .relaxed) }

    /// Adds `count` records of `byteCount` bytes in all.
    func add(records count: Int, bytes byteCount: Int) {
        records.add(count, ordering: .relaxed)
        bytes.add(byteCount, ordering: .relaxed)
    }

    /// Starts printing, one line per second, until ``stop()``.
    func start() {
        let start = ContinuousClock.now
        let printer = Task { [self] in
            var lastRecords = 0
            var lastBytes = 0
            var tick = 1
            while !Task.isCancelled {
                try? await Task.sleep(until: start + .seconds(tick), clock: .continuous)
                guard !Task.isCancelled else { return }
                let total = records.load(ordering: .relaxed)
                let totalBytes = bytes.load(ordering: .relaxed)
                StandardError.writeLine(
                    "\(mode): \(tick) s, \(total) records, \(total - lastRecords) records/s, "
                        + "\(PerfSummary.rounded(Double(totalBytes - lastBytes) / 1_000_000, 2)) MB/s")
                lastRecords = total
                lastBytes = totalBytes
                tick += 1
            }
        }
        task.withLock { $0 = printer }
    }

    /// Stops the progress lines.
    func stop() {
        task.withLock { task in
            task?.cancel()
            task = nil
        }
    }
}
