// Cost of keeping a segment descriptor valid for one fetch region: a `dup` + `close` per region
// against what a segment-file cache hit costs (a lock, taking and dropping a reference).
// Build and run: swiftc -O scripts/bench-pin-vs-dup.swift -o /tmp/pin && /tmp/pin (docs/benchmarks.md).
import Glibc
import Synchronization

final class File: Sendable { let fd: Int32; init(_ fd: Int32) { self.fd = fd } }
final class Handle: Sendable {
    let state: Mutex<File?>
    let referenced = Atomic<Bool>(false)
    init(_ f: File) { state = Mutex(f) }
    @inline(never) func open() -> File? {
        if let f = state.withLock({ $0 }) {
            if !referenced.load(ordering: .relaxed) { referenced.store(true, ordering: .relaxed) }
            return f
        }
        return nil
    }
}
func now() -> UInt64 {
    var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
let fd = open(CommandLine.arguments[0], O_RDONLY)
let n = 2_000_000
var sink: Int32 = 0
var t0 = now()
for _ in 0..<n { let d = dup(fd); sink &+= d; close(d) }
let dupNs = Double(now() - t0) / Double(n)
let handle = Handle(File(fd))
t0 = now()
for _ in 0..<n { if let f = handle.open() { sink &+= f.fd } }
let pinNs = Double(now() - t0) / Double(n)
print("dup+close per region: \(dupNs) ns; pin (lock + retain/release): \(pinNs) ns; sink \(sink)")
