// The readonly-view guard's instruction decoder (x86-64 Linux).
//
// guard.cc discards a write to a readonly view in one of three ways (see the
// design comment there). This file decides whether the faulting instruction
// can take way 1 or 2, the cheap ones that need no page swap, and if so
// skips it (way 1) or its iterations inside the view (way 2) by editing the
// saved registers; guard.cc calls it from the SIGSEGV handler with its lock
// held, and counts what was skipped.
//
//  1. A plain store (MOV, SSE/AVX/AVX-512 vector stores): the decoder knows a
//     short list of opcodes and checks the address it computes against the
//     fault address; anything else goes to way 3.
//  2. A string store (REP STOS/MOVS): the iterations that fall inside the
//     view are skipped by advancing RDI/RSI/RCX; the rest, if any, run.
//
// Nothing here allocates, locks or makes a syscall: it only reads the bytes
// of the instruction the CPU just fetched and the saved registers.
#include "guard_decode.h"

#if defined(__linux__) && defined(__x86_64__)
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

namespace shmkit {

namespace {

constexpr greg_t kDirectionFlag = 0x400;  // EFLAGS.DF

// General-purpose register `n` of the saved context, in ModRM/REX numbering
// (0 = rax ... 4 = rsp ... 15 = r15).
uint64_t Gpr(const greg_t* r, int n) {
  static const int kIndex[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                 REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  // SAFETY: n & 15 indexes kIndex; every REG_* value indexes gregs (NGREG entries).
  return static_cast<uint64_t>(r[kIndex[n & 15]]);
}

int32_t ReadI32(const uint8_t* p) {
  int32_t v;
  // SAFETY: p points inside the faulting instruction (see DecodePureStore),
  // which the CPU has just fetched, so its bytes are mapped and readable.
  memcpy(&v, p, sizeof v);
  return v;
}

// A decoded plain store: `width` bytes written at `ea` by an instruction of
// `length` bytes with no other effect.
struct Store {
  size_t length;
  uintptr_t ea;
  size_t width;
};

// Way 1. Decodes the instruction at `ip` (64-bit mode) if it is one of the
// plain stores below; false for anything else. Only these opcodes, all of
// whose effects are the bytes they write:
//   88, 89, C6 /0, C7 /0                          MOV r/m, r | imm
//   0F 11, 13, 17, 29, 2B, 7E, 7F, D6, E7, C3     SSE/MMX stores, MOVNTI
//   VEX/EVEX 0F 11, 13, 17, 29, 2B, 7E, 7F, D6, E7 (AVX, AVX-512, masked too)
// The caller also checks that the fault address lies in [ea, ea + width), so
// a decoding slip sends the write to way 3 instead of skipping the wrong bytes.
bool DecodePureStore(const uint8_t* ip, const greg_t* r, Store* out) {
  // SAFETY (the whole function): every byte read lies within the instruction
  // the CPU just fetched and decoded: the decoder reads prefixes, then
  // exactly the opcode, ModRM, SIB, displacement and immediate bytes that
  // the recognised encodings have, and stops at the first byte it does not
  // recognise, which is still part of the instruction.
  const uint8_t* p = ip;
  bool p66 = false, pf2 = false, pf3 = false, addr32 = false;
  for (;; ++p) {
    if (p - ip >= 4) return false;  // more legacy prefixes than compilers emit
    uint8_t b = *p;
    if (b == 0x66) {
      p66 = true;
    } else if (b == 0x67) {
      addr32 = true;
    } else if (b == 0xF2) {
      pf2 = true;
    } else if (b == 0xF3) {
      pf3 = true;
    } else if (b == 0x2E || b == 0x36 || b == 0x3E || b == 0x26) {
      // CS/SS/DS/ES overrides: ignored in 64-bit mode
    } else {
      break;  // opcode, REX, or LOCK/FS/GS, which are not decoded here
    }
  }
  int mandatory = (p66 ? 1 : 0) + (pf2 ? 1 : 0) + (pf3 ? 1 : 0);
  int rex = 0;
  if ((*p & 0xF0) == 0x40) rex = *p++;
  bool w = rex & 8, x = rex & 2, b_ext = rex & 1;
  bool evex = false;
  size_t width = 0, imm = 0;
  bool reg_must_be_0 = false;

  uint8_t first = *p;
  if (first == 0xC5 || first == 0xC4 || first == 0x62) {
    // VEX/EVEX: in 64-bit mode these bytes are always prefixes, never LDS/LES/BOUND.
    if (rex != 0 || mandatory != 0) return false;  // #UD with either
    int map, pp, vlen;
    if (first == 0xC5) {
      x = b_ext = w = false;
      vlen = (p[1] & 0x04) ? 32 : 16;
      pp = p[1] & 3;
      map = 1;
      p += 2;
    } else if (first == 0xC4) {
      x = !(p[1] & 0x40);
      b_ext = !(p[1] & 0x20);
      map = p[1] & 0x1F;
      w = p[2] & 0x80;
      vlen = (p[2] & 0x04) ? 32 : 16;
      pp = p[2] & 3;
      p += 3;
    } else {
      uint8_t p0 = p[1], p1 = p[2], p2 = p[3];
      if ((p0 & 0x0C) != 0 || (p1 & 0x04) == 0) return false;  // APX or reserved bits
      x = !(p0 & 0x40);
      b_ext = !(p0 & 0x20);
      map = p0 & 3;
      w = p1 & 0x80;
      pp = p1 & 3;
      int ll = (p2 >> 5) & 3;
      if (ll == 3 || (p2 & 0x10) != 0) return false;  // reserved length; broadcast/rounding
      vlen = 16 << ll;
      evex = true;
      p += 4;
    }
    if (map != 1) return false;
    switch (*p++) {
      case 0x11: width = pp == 2 ? 4 : pp == 3 ? 8 : vlen; break;  // vmovups/upd, vmovss, vmovsd
      case 0x13: case 0x17: if (pp > 1) return false; width = 8; break;  // vmovlps/lpd/hps/hpd
      case 0x29: case 0x2B: if (pp > 1) return false; width = vlen; break;  // vmovaps/apd, vmovntps/pd
      case 0x7E: if (pp != 1) return false; width = w ? 8 : 4; break;  // vmovd/q r/m, xmm (F3: a load)
      case 0x7F: if (pp == 0 || (pp == 3 && !evex)) return false; width = vlen; break;  // vmovdqa/u*
      case 0xD6: if (pp != 1) return false; width = 8; break;  // vmovq m64, xmm
      case 0xE7: if (pp != 1) return false; width = vlen; break;  // vmovntdq
      default: return false;
    }
  } else if (first == 0x0F) {
    if (mandatory > 1) return false;
    switch (p[1]) {
      case 0x11: width = pf3 ? 4 : pf2 ? 8 : 16; break;  // movups/upd, movss, movsd
      case 0x13: case 0x17: if (pf2 || pf3) return false; width = 8; break;
      case 0x29: case 0x2B: if (pf2 || pf3) return false; width = 16; break;
      case 0x7E: if (pf2 || pf3) return false; width = w ? 8 : 4; break;  // movd/movq r/m, (x)mm
      case 0x7F: if (pf2) return false; width = (p66 || pf3) ? 16 : 8; break;  // movq mm, movdqa, movdqu
      case 0xD6: if (!p66) return false; width = 8; break;
      case 0xE7: if (pf2 || pf3) return false; width = p66 ? 16 : 8; break;  // movntq, movntdq
      case 0xC3: if (mandatory != 0) return false; width = w ? 8 : 4; break;  // movnti
      default: return false;
    }
    p += 2;
  } else {
    if (pf2 || pf3) return false;  // XACQUIRE/XRELEASE: leave to way 3
    switch (first) {
      case 0x88: width = 1; break;
      case 0x89: width = w ? 8 : p66 ? 2 : 4; break;
      case 0xC6: width = 1; imm = 1; reg_must_be_0 = true; break;
      // REX.W outranks 66: MOV r/m64, imm32 even with a 66 prefix.
      case 0xC7: width = w ? 8 : p66 ? 2 : 4; imm = (p66 && !w) ? 2 : 4; reg_must_be_0 = true; break;
      default: return false;
    }
    p += 1;
  }

  uint8_t modrm = *p++;
  int mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
  if (mod == 3) return false;  // a register destination: not a store
  if (reg_must_be_0 && reg != 0) return false;
  uint64_t ea = 0;
  int64_t disp = 0;
  bool rip_relative = false;
  if (rm == 4) {
    uint8_t sib = *p++;
    int index = ((sib >> 3) & 7) | (x ? 8 : 0);
    if (index != 4) ea += Gpr(r, index) << (sib >> 6);  // 4 (rsp) means no index; 12 (r12) is one
    if ((sib & 7) == 5 && mod == 0) {
      disp = ReadI32(p);
      p += 4;
    } else {
      ea += Gpr(r, (sib & 7) | (b_ext ? 8 : 0));
    }
  } else if (rm == 5 && mod == 0) {
    rip_relative = true;
    disp = ReadI32(p);
    p += 4;
  } else {
    ea += Gpr(r, rm | (b_ext ? 8 : 0));
  }
  if (mod == 1) {
    // EVEX scales an 8-bit displacement by N, which for these stores is the
    // bytes written (full vector, scalar and 64-bit tuples alike).
    disp = static_cast<int8_t>(*p++) * static_cast<int64_t>(evex ? width : 1);
  } else if (mod == 2) {
    disp = ReadI32(p);
    p += 4;
  }
  p += imm;
  size_t length = static_cast<size_t>(p - ip);
  if (length > 15) return false;
  ea += static_cast<uint64_t>(disp);
  if (rip_relative) ea += reinterpret_cast<uintptr_t>(ip) + length;
  if (addr32) ea &= 0xFFFFFFFFu;
  *out = Store{length, static_cast<uintptr_t>(ea), width};
  return true;
}

}  // namespace

// Way 1: skips the faulting instruction if it is a plain store whose bytes
// all lie inside the view [start, end).
bool SkipPureStore(greg_t* r, uintptr_t fault, uintptr_t start, uintptr_t end) {
  Store s;
  if (!DecodePureStore(reinterpret_cast<const uint8_t*>(r[REG_RIP]), r, &s)) return false;
  if (fault < s.ea || fault - s.ea >= s.width) return false;  // not the store we think it is
  if (s.ea < start || s.ea + s.width > end) return false;
  r[REG_RIP] += static_cast<greg_t>(s.length);
  return true;
}

// Way 2: REP STOS/MOVS (and single STOS/MOVS) with 64-bit addressing whose
// destination is inside the view [start, end): skip the iterations that write
// inside it. If the destination runs past the view, the remaining
// iterations run for real from there.
bool SkipStringStore(greg_t* r, uintptr_t start, uintptr_t end) {
  // SAFETY: as in DecodePureStore: prefixes, an optional REX and one opcode
  // byte, all part of the instruction the CPU just fetched.
  const uint8_t* ip = reinterpret_cast<const uint8_t*>(r[REG_RIP]);
  const uint8_t* p = ip;
  bool rep = false, p66 = false;
  for (;; ++p) {
    if (p - ip >= 4) return false;
    uint8_t b = *p;
    if (b == 0xF3) {
      rep = true;
    } else if (b == 0x66) {
      p66 = true;
    } else if (b == 0x2E || b == 0x36 || b == 0x3E || b == 0x26 || b == 0x64 || b == 0x65) {
      // a segment for MOVS's source, which is skipped anyway
    } else {
      break;  // 0x67 (32-bit addressing) and 0xF2 end up below as "not a string store"
    }
  }
  int rex = 0;
  if ((*p & 0xF0) == 0x40) rex = *p++;
  uint8_t op = *p++;
  bool movs = op == 0xA4 || op == 0xA5;
  if (!movs && op != 0xAA && op != 0xAB) return false;
  uint64_t size = (op == 0xA4 || op == 0xAA) ? 1 : (rex & 8) ? 8 : p66 ? 2 : 4;
  uint64_t count = rep ? static_cast<uint64_t>(r[REG_RCX]) : 1;
  if (count == 0) return false;
  uint64_t dst = static_cast<uint64_t>(r[REG_RDI]);
  bool down = (r[REG_EFL] & kDirectionFlag) != 0;
  if (dst < start || dst + size > end) return false;
  uint64_t fit = down ? (dst - start) / size + 1 : (end - dst) / size;
  uint64_t k = count < fit ? count : fit;
  uint64_t bytes = k * size;
  r[REG_RDI] = static_cast<greg_t>(down ? dst - bytes : dst + bytes);
  if (movs) r[REG_RSI] = static_cast<greg_t>(down ? r[REG_RSI] - bytes : r[REG_RSI] + bytes);
  if (rep) r[REG_RCX] = static_cast<greg_t>(count - k);
  if (k == count) r[REG_RIP] += static_cast<greg_t>(p - ip);
  return true;
}

}  // namespace shmkit

#endif  // defined(__linux__) && defined(__x86_64__)
