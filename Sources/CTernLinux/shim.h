// Linux/glibc declarations the Glibc module does not import (like swift-nio's CNIOLinux).
#ifndef TERN_LINUX_SHIM_H
#define TERN_LINUX_SHIM_H
#ifdef __linux__
#include <malloc.h>
#endif
#endif
