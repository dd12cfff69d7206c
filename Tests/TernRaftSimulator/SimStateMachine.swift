import TernRaft

/// The simulated hosts' state machine: a count, a hash chain over every applied entry and the last
/// payload per 16 slots. Its bytes are what snapshots hold (144 bytes, so small chunk sizes split
/// them), and two nodes at the same applied offset must hold equal states.
struct SimStateMachine: Equatable, Sendable {
    static let encodedSize = 16 + 16 * 8

    var count: Int64 = 0
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    var slots = [UInt64](repeating: 0, count: 16)

    init() {}

    /// Decodes snapshot bytes; nil when they are not a state's.
    init?(bytes: [UInt8]) {
        guard bytes.count == Self.encodedSize else { return nil }
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in bytes[(i * 8)..<(i * 8 + 8)].reversed() { v = v << 8 | UInt64(b) }
            return v
        }
        count = Int64(bitPattern: word(0))
        hash = word(1)
        slots = (0..<16).map { word(2 + $0) }
    }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedSize)
        for var v in [UInt64(bitPattern: count), hash] + slots {
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
        }
        return out
    }

    mutating func apply(_ e: RaftEntry) {
        count += 1
        var h = hash
        func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var epoch = UInt64(bitPattern: e.epoch)
        for _ in 0..<8 {
            mix(UInt8(truncatingIfNeeded: epoch))
            epoch >>= 8
        }
        for b in e.data { mix(b) }
        hash = h
        if e.data.count == 8 {
            var v: UInt64 = 0
            for b in e.data.reversed() { v = v << 8 | UInt64(b) }
            slots[Int(v % 16)] = v
        }
    }
}
