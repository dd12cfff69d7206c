import Foundation

/// `--json` output: pretty-printed, keys sorted, one document on stdout.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        FileDescriptorWriter.writeAll(1, Array(data)[...])
    }
}
