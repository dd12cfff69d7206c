/// One libFuzzer target: a decoder fed hostile bytes, with the invariants it must keep.
struct FuzzTarget: Sendable {
    /// The name `scripts/fuzz.sh` and the corpus directory (`Fuzz/Corpus/<name>`) use.
    let name: String
    /// `-max_len` for this target: large enough for every seed and the structures it explores.
    let maxLength: Int
    /// What the target decodes (`tern-fuzz --list`).
    let summary: String
    /// Runs one input. Returns normally for any input a decoder may refuse; a broken invariant
    /// calls ``fuzzFail(_:)``, which libFuzzer records as a crash with the input that caused it.
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Seed inputs made by real encoders, written by `tern-fuzz --write-seeds DIR`.
    let seeds: @Sendable () -> [(name: String, bytes: [UInt8])]
    /// Printed when the fuzzer exits (per-type coverage of a dispatching target); nil for none.
    var report: (@Sendable () -> String)? = nil

    static let all: [FuzzTarget] = [
        RequestTarget.target, ResponseTarget.target, RecordBatchTarget.target, GzipTarget.target,
        MetadataRecordTarget.target, AdminHTTPTarget.target, ConfigFileTarget.target, GroupRecordTarget.target,
        RaftWireTarget.target, SaslTarget.target, MetadataBatchTarget.target, MetaPropertiesTarget.target,
        QuorumFilesTarget.target, ProducerSnapshotTarget.target, ReplicationWireTarget.target,
        MetadataImageTarget.target, CheckpointFilesTarget.target,
    ]
}

/// Stops the run: libFuzzer catches the trap and saves the input as a crash artifact.
func fuzzFail(_ message: String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError("fuzz invariant broken: \(message)", file: file, line: line)
}

/// Checks an invariant the decoder promises for every input.
func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file,
    line: UInt = #line
) {
    if !condition() { fuzzFail(message(), file: file, line: line) }
}
