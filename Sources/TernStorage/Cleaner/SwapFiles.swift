/// The file names of a segment swap, and how start-up finishes or rolls back one a crash
/// interrupted.
///
/// A cleaning of the segments from base N writes `N.log.cleaned`, `N.index.cleaned` and
/// `N.timeindex.cleaned` (fsynced), then records in `N.swapinfo` where the replaced range ends,
/// then renames the index files and last the log to `.swap`: that rename of `N.log.cleaned` to
/// `N.log.swap`, with the directory fsynced, is the commit point. It then renames the old
/// segments' files to `.deleted`, the `.swap` files to their final names, fsyncs the directory
/// and deletes the `.deleted` files and the `.swapinfo`.
///
/// At start-up: an `N.log.swap` means the swap committed, so every segment with a base offset in
/// N..<end is deleted and the `.swap` files get their final names (the log's indexes are then
/// rebuilt, whatever state they were in); without it the swap never committed, so `.cleaned`
/// files are deleted and the old segments, still in place, stay. `.deleted` files are deleted
/// either way: they exist only after a commit.
enum SwapFiles {
    static let cleanedSuffix = ".cleaned"
    static let swapSuffix = ".swap"
    static let deletedSuffix = ".deleted"
    static let infoSuffix = ".swapinfo"

    static func infoPath(directory: String, base: Int64) -> String {
        directory + "/" + Segment.fileName(base, infoSuffix)
    }

    /// Finishes committed swaps and removes every leftover of unfinished ones in `directory`.
    /// Returns the base offsets of the segments a finished swap produced (their indexes must be
    /// rebuilt) and whether the directory changed.
    static func recover(directory: String, logWarning: (String) -> Void) throws -> (swapped: Set<Int64>, changed: Bool) {
        var names = try FileSystem.list(directory)
        var swapped = Set<Int64>()
        var changed = false
        let logBases = Set(names.compactMap { Segment.baseOffset(fromFileName: $0, suffix: ".log") })
        for name in names {
            guard let base = Segment.baseOffset(fromFileName: name, suffix: ".log" + swapSuffix) else { continue }
            let end = readEnd(infoPath(directory: directory, base: base)) ?? base + 1
            for old in logBases where old >= base && old < end {
                for suffix in [".log", ".index", ".timeindex", ".keyindex"] {
                    try FileSystem.unlink(directory + "/" + Segment.fileName(old, suffix))
                }
            }
            for suffix in [".index", ".timeindex", ".log"] {
                let final = directory + "/" + Segment.fileName(base, suffix)
                if FileSystem.exists(final + swapSuffix) { try FileSystem.rename(final + swapSuffix, final) }
            }
            swapped.insert(base)
            changed = true
            logWarning(
                "finished an interrupted segment swap: \(Segment.fileName(base, ".log")) replaces the segments "
                    + "from offset \(base) to \(end)")
        }
        if changed { try FileSystem.fsyncDirectory(directory) }
        names = try FileSystem.list(directory)
        for name in names
        where name.hasSuffix(cleanedSuffix) || name.hasSuffix(swapSuffix) || name.hasSuffix(deletedSuffix)
            || name.hasSuffix(infoSuffix)
        {
            if name.hasSuffix(".log" + cleanedSuffix) {
                logWarning("rolling back an unfinished cleaning: deleting \(name)")
            }
            try FileSystem.unlink(directory + "/" + name)
            changed = true
        }
        return (swapped, changed)
    }

    /// The end offset recorded in a `.swapinfo` file, or nil.
    static func readEnd(_ path: String) -> Int64? {
        guard let bytes = try? AtomicFile.readIfExists(path, limit: 64),
            let text = String(validating: bytes, as: UTF8.self)
        else { return nil }
        return Int64(text.split(separator: "\n").first ?? "")
    }
}
