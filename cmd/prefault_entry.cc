// gx's entry point when gx is a static PIE (CMakeLists.txt links it with
// -Wl,-e,gx_prefault_entry): map the pages every gx start touches with three
// madvise calls, then continue at glibc's _start.
//
// Why: on a guest where a page fault costs 10-16 us (docs/performance.md,
// twenty-first pass), a start of gx took ~100 faults: ~30 copy-on-write faults
// as _dl_relocate_static_pie writes the relocated pointers of .data.rel.ro,
// .got and .data, ~45 on gx's code (64 KiB of fault-around each), ~10 on
// .rodata and the relocation table. MADV_POPULATE_WRITE / _READ map the same
// pages in one call each, at a quarter of the cost per page. Every `gx run`,
// broker client and nested run starts this way; forked broker workers inherit
// the mapped pages.
//
// What is populated, from gx's own program headers (never from anything a
// caller controls): every loadable segment, except the read-only data from
// the exception-frame tables (.eh_frame_hdr, .eh_frame, .gcc_except_table,
// ~0.9 MB, read only when an exception is thrown) to the segment's end. The
// cost is resident memory: gx's code is shared page cache, but it counts in
// the process's RSS (docs/performance.md gives the peak RSS of `gx run`).
//
// Contract: runs before relocation and before TLS exists, so this file uses no
// relocated data, no libc, no stack protector (its canary lives in TLS) and no
// sanitizer (CMakeLists.txt compiles it with -fno-stack-protector, on its own,
// and links it only into static-PIE builds, which have no sanitizers). Every
// madvise result is ignored: a kernel before 5.14 lacks the two advice values
// (EINVAL) and gx then starts exactly as it did without them. madvise is in
// every gx seccomp filter's base group, so a nested gx starts the same way.
#include <elf.h>
#include <link.h>
#include <sys/syscall.h>

#include <cstdint>

namespace {

// linux/mman.h names: glibc 2.36's <sys/mman.h> has them, older headers may not.
constexpr long kMadvPopulateRead = 22;
constexpr long kMadvPopulateWrite = 23;
constexpr uintptr_t kPage = 4096;

long raw_madvise(uintptr_t start, uintptr_t length, long advice) {
  long ret = SYS_madvise;
  __asm__ volatile("syscall" : "+a"(ret) : "D"(start), "S"(length), "d"(advice) : "rcx", "r11", "memory");
  return ret;
}

}  // namespace

// The ELF header of gx itself (GNU ld defines it at the first loaded byte);
// hidden, so the code reaches it PC-relative, without a relocation.
extern "C" const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

extern "C" __attribute__((visibility("hidden"), used)) void gx_prefault_image() {
  const ElfW(Ehdr)* const ehdr = &__ehdr_start;
  const auto base = reinterpret_cast<uintptr_t>(ehdr);  // first PT_LOAD: vaddr 0, offset 0
  const auto* const phdrs = reinterpret_cast<const ElfW(Phdr)*>(base + ehdr->e_phoff);
  uintptr_t eh_frame_hdr = 0;
  for (unsigned i = 0; i < ehdr->e_phnum; ++i)
    if (phdrs[i].p_type == PT_GNU_EH_FRAME) eh_frame_hdr = base + phdrs[i].p_vaddr;
  for (unsigned i = 0; i < ehdr->e_phnum; ++i) {
    const ElfW(Phdr)& ph = phdrs[i];
    if (ph.p_type != PT_LOAD) continue;
    const uintptr_t start = (base + ph.p_vaddr) & ~(kPage - 1);
    uintptr_t end = (base + ph.p_vaddr + ph.p_memsz + kPage - 1) & ~(kPage - 1);
    const bool writable = (ph.p_flags & PF_W) != 0;
    if (!writable && eh_frame_hdr > start && eh_frame_hdr < end) end = eh_frame_hdr & ~(kPage - 1);
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
