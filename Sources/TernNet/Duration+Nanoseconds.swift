extension Duration {
    /// The duration in whole nanoseconds, clamped to `0...Int64.max` (negative durations are zero).
    var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (total, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : max(total, 0)
    }

    /// The duration in whole milliseconds, rounded up, clamped to `0...Int32.max` (for `poll`).
    var clampedMilliseconds: Int32 {
        let nanos = clampedNanoseconds
        let millis = nanos / 1_000_000 + (nanos % 1_000_000 == 0 ? 0 : 1)
        return Int32(clamping: millis)
    }
}
