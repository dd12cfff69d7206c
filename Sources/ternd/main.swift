import ArgumentParser

// Keep this file to one call: closures at the top level of main.swift are main-actor code and
// crash when Dispatch runs them (CONVENTIONS.md, "Traps seen on this toolchain").
TerndCommand.main()
