// gx's entry point when gx is a static PIE on x86-64 (CMakeLists.txt links
// it with -Wl,-e,gx_prefault_entry): map the data pages every gx start
// touches with one madvise call per loadable data segment (three), then
// continue at glibc's _start.
//
// Why: on a guest where a page fault costs 10-16 us (docs/performance.md,
// twenty-first pass), a start of gx took ~100 faults: ~30 copy-on-write faults
// as _dl_relocate_static_pie writes the relocated pointers of .data.rel.ro,
// .got and .data, ~45 on gx's code (64 KiB of fault-around each), ~10 on
// .rodata and the relocation table. MADV_POPULATE_WRITE / _READ map the same
// pages in one call each, at a quarter of the cost per page or less. Every
// `gx run`, broker client and nested run starts this way. (A broker's forked
// worker inherits only the writable segment's pages: fork copies no page
// table entries of read-only file mappings. A reused worker keeps its own.)
//
// What is populated, from gx's own program headers (never from anything a
// caller controls): the relocation table's segment (read whole by the
// relocation), the writable segment (written by it), and the read-only data
// up to the exception-frame tables (.eh_frame_hdr, .eh_frame,
// .gcc_except_table, ~0.9 MB, read only when an exception is thrown). Not
// the code (~6 MB, of which a start runs a small part; fault-around maps
// 64 KiB a fault): populating it cost ~0.5 ms a start on a guest whose
// faults are cheap (2 us) and saved ~0.1 ms on one where they cost 14 us
// (docs/performance.md, twenty-first and twenty-third passes). Resident memory grows by
// what is populated (tests/cli/start_up.sh holds a running `gx run` to the
// 8 MiB target).
//
// Contract: runs before relocation and before TLS exists, so this file uses
// no relocated data, no libc, no stack protector (its canary lives in TLS),
// no instrumentation and no builtin that could become a call (memset through
// an IFUNC not yet relocated). CMakeLists.txt compiles it on its own with
// -fno-stack-protector -fno-builtin (and, for GCC,
// -fno-tree-loop-distribute-patterns), and links it only into static-PIE
// builds, which have no sanitizers; a build with -pg would call mcount here
// and crash. Every madvise result is ignored: a kernel before 5.14 lacks the
// two advice values (EINVAL) and gx then starts exactly as it did without
// them. madvise is in every gx seccomp filter's base group, so a nested gx
// starts the same way -- unless its artifact's policy removes madvise with
// deny_syscalls: under default_action "kill" that nested gx is killed at its
// first instruction (glibc would need madvise later anyway).
#if !defined(__x86_64__) || defined(__ILP32__)
#error "cmd/prefault_entry.cc is x86-64 only (its entry stub is x86-64 assembly)"
#endif
#include <elf.h>
#include <link.h>
#include <sys/syscall.h>

#include <cstdint>

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define GX_NO_STACK_PROTECTOR no_stack_protector,
#endif
#endif
#ifndef GX_NO_STACK_PROTECTOR
#define GX_NO_STACK_PROTECTOR
#endif

namespace {

// linux/mman.h names: glibc 2.36's <sys/mman.h> has them, older headers may not.
constexpr long kMadvPopulateRead = 22;
constexpr long kMadvPopulateWrite = 23;
constexpr uintptr_t kPage = 4096;

__attribute__((GX_NO_STACK_PROTECTOR no_instrument_function)) long raw_madvise(uintptr_t start, uintptr_t length,
                                                                               long advice) {
  long ret = SYS_madvise;
  __asm__ volatile("syscall" : "+a"(ret) : "D"(start), "S"(length), "d"(advice) : "rcx", "r11", "memory");
  return ret;
}

}  // namespace

// The ELF header of gx itself (GNU ld defines it at the first loaded byte);
// hidden, so the code reaches it PC-relative, without a relocation.
extern "C" const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

extern "C" __attribute__((GX_NO_STACK_PROTECTOR no_instrument_function, visibility("hidden"), used)) void
gx_prefault_image() {
  const ElfW(Ehdr)* const ehdr = &__ehdr_start;
  const auto header = reinterpret_cast<uintptr_t>(ehdr);
  const auto* const phdrs = reinterpret_cast<const ElfW(Phdr)*>(header + ehdr->e_phoff);
  // The load bias: the header is the start of the segment that maps file
  // offset 0 (vaddr 0 for GNU ld's PIE; anything else is computed, not assumed).
  uintptr_t base = 0;
  bool found = false;
  uintptr_t eh_frame_hdr = 0;
  for (unsigned i = 0; i < ehdr->e_phnum; ++i) {
    if (phdrs[i].p_type == PT_LOAD && phdrs[i].p_offset == 0 && !found) {
      base = header - phdrs[i].p_vaddr;
      found = true;
    }
    if (phdrs[i].p_type == PT_GNU_EH_FRAME) eh_frame_hdr = phdrs[i].p_vaddr;
  }
  if (!found) return;
  if (eh_frame_hdr != 0) eh_frame_hdr += base;
  for (unsigned i = 0; i < ehdr->e_phnum; ++i) {
    const ElfW(Phdr)& ph = phdrs[i];
    if (ph.p_type != PT_LOAD) continue;
    const uintptr_t start = (base + ph.p_vaddr) & ~(kPage - 1);
    uintptr_t end = (base + ph.p_vaddr + ph.p_memsz + kPage - 1) & ~(kPage - 1);
    if ((ph.p_flags & PF_X) != 0) continue;  // the code: faulted in as it runs (see the top)
    const bool writable = (ph.p_flags & PF_W) != 0;
    // Up to and including the page where the unwind tables begin.
    if (!writable && eh_frame_hdr > start && eh_frame_hdr < end) end = (eh_frame_hdr + kPage - 1) & ~(kPage - 1);
    if (end > start) raw_madvise(start, end - start, writable ? kMadvPopulateWrite : kMadvPopulateRead);
  }
}

// The kernel enters here with the stack as _start expects it and %rdx holding
// the (null, for a static executable) atexit pointer, which %r12 (callee-saved)
// keeps across the call. %rsp is 16-byte aligned at entry, so after the call's
// push it is as the ABI wants at gx_prefault_image's first instruction.
__asm__(
    ".text\n"
    ".globl gx_prefault_entry\n"
    ".type gx_prefault_entry, @function\n"
    "gx_prefault_entry:\n"
    "  endbr64\n"
    "  mov %rdx, %r12\n"
    "  call gx_prefault_image\n"
    "  mov %r12, %rdx\n"
    "  jmp _start\n"
    ".size gx_prefault_entry, .-gx_prefault_entry\n");
