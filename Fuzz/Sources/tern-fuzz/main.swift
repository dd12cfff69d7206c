// Kept to one call: top-level code is main-actor code (CONVENTIONS.md, "Traps seen").
FuzzMain.run()
