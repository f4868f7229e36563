#!/usr/bin/python3
"""Enforces the library boundaries drawn in src/meson.build's header comment.

Usage: layers.py BUILD_DIR SOURCE_DIR

Three kinds of check, each printed as one "ok"/"FAIL" line, then "N passed, N failed":
  symbols   every static library's undefined symbols are defined by a library its arrow
            names, or are on its own libc/libm allow-list below;
  includes  no source under src/ includes a header of a library it may not use, and the
            public headers in include/braid include only public and system headers;
  sim-link  nothing built for the simulator links the I/O layer (io, emu), and the
            simulator library needs no symbol those define.
"""

import json
import os
import re
import subprocess
import sys

# ---- the allow-lists -------------------------------------------------------------------

# Code generation and instrumentation, not calls anyone wrote: the stack protector, errno
# (strtod and friends report range errors through it), the GOT base the linker provides
# for position-independent code, libgcc's 128-bit arithmetic and popcount, and what
# -fsanitize=... and coverage builds add (the ASan tree runs this test too).
COMPILER_RUNTIME = {
    '__stack_chk_fail', '__stack_chk_guard', '__errno_location', '_GLOBAL_OFFSET_TABLE_',
    '__udivti3', '__umodti3', '__divti3', '__modti3', '__multi3', '__popcountdi2',
}
RUNTIME_PREFIXES = ('__asan_', '__ubsan_', '__sanitizer_', '__lsan_', '__sancov_',
                    '__gcov_', '__llvm_')

# bcmp is what clang makes of a memcmp compared only with 0.
MEMORY = {'memcpy', 'memmove', 'memset', 'memcmp', 'memchr', 'bcmp'}
STRINGS = {
    'strlen', 'strnlen', 'strcmp', 'strncmp', 'strcasecmp', 'strncasecmp', 'strchr',
    'strrchr', 'strstr', 'strspn', 'strcspn', 'strpbrk', 'strcpy', 'strtok_r', 'strdup',
    '__ctype_b_loc', '__ctype_tolower_loc', '__ctype_toupper_loc',  # <ctype.h> tables
}
# Number parsing, and formatting into a caller's buffer (never into a stream).
NUMBERS = {'strtod', 'strtol', 'strtoul', 'strtoll', 'strtoull', 'snprintf', 'vsnprintf'}
ALLOCATION = {'malloc', 'calloc', 'realloc', 'free'}
SORTING = {'qsort', 'bsearch'}
LIBM = {
    'sqrt', 'cbrt', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'pow', 'sin', 'cos',
    'floor', 'ceil', 'round', 'lround', 'llround', 'fabs', 'fmin', 'fmax', 'fmod',
}
# What a sans-I/O library may call: no stream, clock, environment, socket or file.
SANS_IO = COMPILER_RUNTIME | MEMORY | STRINGS | NUMBERS | ALLOCATION | SORTING | LIBM

# Opening and reading the text files a scenario or a link spec names.
FILE_READING = {'fopen', 'fclose', 'fread', 'fgets', 'ferror', 'strerror'}
# The simulator writes its JSON, SVG and trace output to a FILE* the program opened for
# it (fputc, fputs and fwrite are what compilers turn constant fprintf calls into). It
# lists a directory of traces and asks whether a trace's .down twin exists; it never opens
# a file itself: scenario_files reads them.
STREAM_WRITING = {'fprintf', 'fputc', 'fputs', 'fwrite', 'ferror'}
DIRECTORY_LISTING = {'opendir', 'readdir', 'closedir', 'access', 'strerror'}
# The event loop: a monotonic clock, epoll, signals through signalfd (read drains it).
EVENT_LOOP = {
    'clock_gettime', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait2',
    'signalfd', 'sigemptyset', 'sigaddset', 'sigprocmask', 'read', 'close',
}
SOCKETS = {
    'socket', 'bind', 'setsockopt', 'getsockname', 'sendto', 'sendmmsg', 'recvmmsg',
    'getaddrinfo', 'freeaddrinfo', 'inet_ntop', 'in6addr_any', 'close', 'strerror',
    # TCP (braidd's RTP proxy over RFC 4571)
    'listen', 'accept4', 'connect', 'getsockopt', 'send', 'recv',
}
SYSTEM_RANDOMNESS = {'getrandom'}
# The netns library: named namespaces (unshare, setns, a bind mount under /run/netns and its
# removal, the directory listed for leftovers, a lock file), netlink through libmnl (mnl_*),
# and TUN devices (/dev/net/tun, TUNSETIFF, a packet per read or write).
NAMESPACES = {
    'open', 'close', 'unshare', 'setns', 'mount', 'umount2', 'unlink', 'mkdir', 'rmdir',
    'opendir', 'readdir', 'closedir', 'flock', 'strerror', 'vsnprintf',
}
TUN_DEVICE = {'ioctl', 'read', 'write'}
# The core's cryptography, named function by function so nothing else of libsodium slips
# in: BLAKE2b (keys, MACs), X25519, ChaCha20-Poly1305, constant-time compare and wipe.
# sodium_init only picks the CPU's fastest implementations; libsodium's random generator
# (randombytes_*) is not here: ephemeral keys derive from the seed the caller passes.
CORE_CRYPTO = {
    'sodium_init', 'sodium_memcmp', 'sodium_memzero',
    'crypto_generichash', 'crypto_generichash_init', 'crypto_generichash_update',
    'crypto_generichash_final', 'crypto_scalarmult', 'crypto_scalarmult_base',
    'crypto_aead_chacha20poly1305_ietf_encrypt_detached',
    'crypto_aead_chacha20poly1305_ietf_decrypt_detached',
}

# braidd's libraries. ctl runs sessions on the loop: it closes the sockets io opened for
# it, turns addresses to and from text, and logs a line on stderr when it closes a session.
ADDRESS_TEXT = {'inet_pton', 'inet_ntop', 'in6addr_any'}
LOGGING = {'fprintf', 'fputc', 'fputs', 'fwrite', 'stderr', 'strerror'}
# The gRPC bridge: the pump thread, the eventfd and lock it hands completions over with,
# and abort() when a completion could not be queued (a call would leak forever).
PUMP_THREAD = {
    'pthread_create', 'pthread_join', 'pthread_mutex_init', 'pthread_mutex_destroy',
    'pthread_mutex_lock', 'pthread_mutex_unlock', 'eventfd', 'read', 'write', 'poll',
    'close', 'abort',
}
# Libraries whose whole API is called, known by its prefix: the gRPC C core (grpc_, gpr_)
# and protobuf-c. The generated code asserts too.
ALLOWED_PREFIXES = {
    'ctl_proto': ('protobuf_c_',),
    'ctl_grpc': ('grpc_', 'gpr_', 'protobuf_c_'),
    'ctl_store': ('sqlite3_',),
    'http': ('MHD_',),
    'netns': ('mnl_',),
}

ALLOWED_CALLS = {
    'base': SANS_IO,
    'core': SANS_IO | CORE_CRYPTO,
    'rtp': SANS_IO,
    'rist': SANS_IO,
    'model': SANS_IO,
    'scenario': SANS_IO,
    'scenario_files': SANS_IO | FILE_READING,
    'io': SANS_IO | EVENT_LOOP | SOCKETS | SYSTEM_RANDOMNESS,
    # libmicrohttpd does its own socket calls; the library only hands it the loop.
    'http': SANS_IO,
    'netns': SANS_IO | NAMESPACES | TUN_DEVICE,
    # The relay closes the sockets io opened for it and reports their errors.
    'emu': SANS_IO | {'close', 'strerror'},
    'sim': SANS_IO | STREAM_WRITING | DIRECTORY_LISTING,
    'ctl': SANS_IO | ADDRESS_TEXT | LOGGING | {'close'},
    'ctl_proto': SANS_IO | {'__assert_fail'},
    'ctl_grpc': SANS_IO | LOGGING | PUMP_THREAD,
    # The store makes its file owner-only before SQLite opens it, and asks if it exists.
    'ctl_store': SANS_IO | LOGGING | {'open', 'close', 'access'},
    'ctl_metrics': SANS_IO,
}

# Which library each public header belongs to: the arrows apply to them too.
PUBLIC_HEADER_OWNER = {
    'addr.h': 'base', 'error.h': 'base',
    'common.h': 'core', 'stats.h': 'core', 'sender.h': 'core', 'receiver.h': 'core',
    'rtp.h': 'rtp', 'rtcp.h': 'rtp', 'rtcp_session.h': 'rtp',
}

# The programs: each may use every library.
APP_EXECUTABLES = ('braid', 'braidd')

# The libraries that touch the outside world in real time: the simulator must not link them.
IO_LAYER = ('io', 'emu')

# Large-file and ISO C aliases glibc's headers substitute for a plain call.
LARGE_FILE_CALLS = {'fopen', 'freopen', 'readdir', 'open', 'openat', 'stat', 'fstat', 'lseek'}


def call_name(symbol):
    """The function a symbol stands for: readdir64 is readdir, __snprintf_chk snprintf."""
    symbol = symbol.split('@')[0]
    symbol = re.sub(r'^__isoc(99|23)_', '', symbol)
    fortified = re.match(r'^__(\w+)_chk$', symbol)
    if fortified:
        symbol = fortified.group(1)
    if symbol.endswith('64') and symbol[:-2] in LARGE_FILE_CALLS:
        symbol = symbol[:-2]
    return symbol


def is_allowed_call(library, symbol):
    return (symbol.startswith(RUNTIME_PREFIXES) or symbol in ALLOWED_CALLS[library]
            or call_name(symbol) in ALLOWED_CALLS[library]
            or symbol.startswith(ALLOWED_PREFIXES.get(library, ())))


# ---- reading the build -----------------------------------------------------------------

ARROW = re.compile(r'^#\s+(\w+)\s+->(?: (\w+(?:, \w+)*))?(?:\s{2,}.*)?$')


def read_arrows(source_dir):
    """{library: set of libraries it may use}, from src/meson.build's header comment."""
    arrows = {}
    with open(os.path.join(source_dir, 'src', 'meson.build')) as f:
        for line in f:
            if not line.startswith('#'):
                break
            m = ARROW.match(line.rstrip('\n'))
            if m:
                arrows[m.group(1)] = set(m.group(2).split(', ')) if m.group(2) else set()
    return arrows


def read_targets(build_dir):
    with open(os.path.join(build_dir, 'meson-info', 'intro-targets.json')) as f:
        return json.load(f)


def braid_libraries(targets):
    """{library: path of its .a} for every braid_* static library the build makes."""
    found = {}
    for t in targets:
        if t['type'] == 'static library' and t['name'].startswith('braid_'):
            found[t['name'][len('braid_'):]] = t['filename'][0]
    return found


def library_of_sources(targets, source_dir):
    """{absolute .c path: library} for the braid libraries and the braid program."""
    owner = {}
    for t in targets:
        if t['type'] == 'static library' and t['name'].startswith('braid_'):
            library = t['name'][len('braid_'):]
        elif t['type'] == 'executable' and t['name'] in APP_EXECUTABLES:
            library = 'app'
        else:
            continue
        for group in t['target_sources']:
            for source in group.get('sources', []):
                owner[os.path.realpath(source)] = library
    return owner


def nm(path, *options):
    out = subprocess.run(['nm', '-P', *options, path], check=True, capture_output=True,
                         text=True).stdout
    # -P prints "name type [value size]"; archive members show as "lib.a[x.o]:".
    return {line.split()[0] for line in out.splitlines()
            if line.strip() and not line.rstrip().endswith(':')}


def read_symbols(libraries):
    defined, undefined = {}, {}
    for library, path in libraries.items():
        defined[library] = nm(path, '-g', '--defined-only')
        undefined[library] = nm(path, '-u') - defined[library]
    return defined, undefined


# ---- the checks ------------------------------------------------------------------------

def check_symbols(library, arrows, defined, undefined):
    problems = []
    allowed = arrows[library]
    for symbol in sorted(undefined[library]):
        if any(symbol in defined[dep] for dep in allowed if dep in defined):
            continue
        owners = sorted(other for other in defined if symbol in defined[other])
        if owners:
            problems.append(f'{library} uses {symbol} from {", ".join(owners)}, '
                            f'which it may not depend on')
        elif not is_allowed_call(library, symbol):
            problems.append(f'{library} calls {symbol}, which is not on its allow-list')
    return problems


def resolve_include(name, including_file, source_dir, src_folders):
    """The file a quoted include names, or None when it is not in the tree."""
    first = name.split('/')[0]
    if first == 'braid':
        candidate = os.path.join(source_dir, 'include', name)
    elif '/' in name and first in src_folders:
        candidate = os.path.join(source_dir, 'src', name)
    else:
        candidate = os.path.join(os.path.dirname(including_file), name)
    return os.path.realpath(candidate) if os.path.isfile(candidate) else None


def owner_of_file(path, source_owner, source_dir):
    """The library a source or header belongs to: a header goes with the .c of its name,
    else with its folder (src/scenario/files.h is scenario_files', like files.c)."""
    if os.path.dirname(path) == os.path.realpath(os.path.join(source_dir, 'include', 'braid')):
        return PUBLIC_HEADER_OWNER.get(os.path.basename(path))
    stem = os.path.splitext(path)[0]
    return source_owner.get(path) or source_owner.get(stem + '.c') or \
        os.path.basename(os.path.dirname(path))


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def includes_of(path):
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1) == '"', m.group(2)


def check_includes(files, arrows, source_owner, source_dir, src_folders):
    problems = []
    for path in files:
        library = owner_of_file(path, source_owner, source_dir)
        shown = os.path.relpath(path, source_dir)
        for number, quoted, name in includes_of(path):
            if not quoted:
                continue
            target = resolve_include(name, path, source_dir, src_folders)
            if target is None:
                problems.append(f'{shown}:{number}: "{name}" is no file in the tree')
                continue
            used = owner_of_file(target, source_owner, source_dir)
            if used != library and used not in arrows.get(library, ()):
                problems.append(f'{shown}:{number}: {library} includes "{name}" of {used}, '
                                f'which it may not depend on')
    return problems


def check_public_headers(source_dir, arrows, source_owner, src_folders):
    public = os.path.join(source_dir, 'include', 'braid')
    headers = sorted(os.path.join(public, n) for n in os.listdir(public) if n.endswith('.h'))
    problems = [f'include/braid/{os.path.basename(h)} has no owner in PUBLIC_HEADER_OWNER'
                for h in headers if os.path.basename(h) not in PUBLIC_HEADER_OWNER]
    for header in headers:
        for number, quoted, name in includes_of(header):
            is_public = name.startswith('braid/') and \
                os.path.isfile(os.path.join(source_dir, 'include', name))
            if (quoted or name.startswith('braid/')) and not is_public:
                problems.append(f'include/braid/{os.path.basename(header)}:{number}: '
                                f'includes "{name}", which is not a public header')
    return problems + check_includes(headers, arrows, source_owner, source_dir, src_folders)


LINK_LINE = re.compile(r'^build ([^:]+): (\w+) (.*)$')
BRAID_ARCHIVE = re.compile(r'libbraid_(\w+)\.a\b')


def linked_libraries(build_dir, executables):
    """{executable: braid libraries on its link line}, from build.ninja."""
    linked, current = {}, None
    with open(os.path.join(build_dir, 'build.ninja')) as f:
        for line in f:
            m = LINK_LINE.match(line)
            if m:
                current = m.group(1) if m.group(1) in executables else None
                if current:
                    linked[current] = set(BRAID_ARCHIVE.findall(m.group(3)))
            elif current and line.startswith(' '):
                linked[current] |= set(BRAID_ARCHIVE.findall(line))
            else:
                current = None
    return linked


def check_sim_links(build_dir, executables, app_outputs):
    """Every executable linking the simulator, except the braid program (which links
    everything), must leave io and emu out."""
    problems, checked = [], []
    linked = linked_libraries(build_dir, executables)
    for output, libraries in sorted(linked.items()):
        if 'sim' not in libraries or output in app_outputs:
            continue
        checked.append(output)
        for library in IO_LAYER:
            if library in libraries:
                problems.append(f'{output} is built for the simulator but links '
                                f'libbraid_{library}.a')
    if not any(linked.get(app, set()) >= {'sim', 'io'} for app in app_outputs):
        problems.append('the braid program\'s link line shows no libbraid_sim.a and '
                        'libbraid_io.a: build.ninja not read right?')
    if not checked:
        problems.append('no executable other than the braid program links libbraid_sim.a '
                        '(test_sim expected)')
    return problems, checked


def check_sim_symbols(defined, undefined):
    return [f'sim needs {symbol}, defined by {library}'
            for library in IO_LAYER for symbol in sorted(undefined['sim'] & defined[library])]


# ---- running ---------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def record(self, name, problems, detail=''):
        if problems:
            self.failed += 1
            print(f'FAIL {name}')
            for p in problems:
                print(f'     {p}')
        else:
            self.passed += 1
            print(f'ok   {name}{": " + detail if detail else ""}')


def source_files(source_dir, folder):
    root = os.path.join(source_dir, 'src', folder)
    return sorted(os.path.realpath(os.path.join(root, n)) for n in os.listdir(root)
                  if n.endswith(('.c', '.h')))


def main():
    if len(sys.argv) != 3:
        print('usage: layers.py BUILD_DIR SOURCE_DIR', file=sys.stderr)
        return 2
    build_dir, source_dir = (os.path.realpath(a) for a in sys.argv[1:])
    report = Report()

    arrows = read_arrows(source_dir)
    targets = read_targets(build_dir)
    libraries = braid_libraries(targets)
    table_problems = [f'library {lib} has no arrow in src/meson.build'
                      for lib in sorted(libraries) if lib not in arrows]
    table_problems += [f'{lib} -> {dep}: no such library'
                       for lib, deps in sorted(arrows.items()) for dep in sorted(deps)
                       if dep not in libraries]
    table_problems += [f'library {lib} has no allow-list in tests/layers.py'
                       for lib in sorted(libraries) if lib not in ALLOWED_CALLS]
    if not libraries:
        table_problems.append(f'no libbraid_*.a in {build_dir}')
    report.record('arrows', table_problems, f'{len(arrows)} read from src/meson.build')
    if table_problems:
        print(f'{report.passed} passed, {report.failed} failed')
        return 1

    defined, undefined = read_symbols(libraries)
    for library in sorted(libraries):
        problems = check_symbols(library, arrows, defined, undefined)
        if not defined[library]:
            problems.append(f'nm found no symbol defined in {libraries[library]}')
        report.record(f'symbols {library}', problems,
                      f'{len(undefined[library])} undefined, all allowed')

    source_owner = library_of_sources(targets, source_dir)
    src_folders = sorted(n for n in os.listdir(os.path.join(source_dir, 'src'))
                         if os.path.isdir(os.path.join(source_dir, 'src', n)))
    for folder in src_folders:
        files = source_files(source_dir, folder)
        report.record(f'includes src/{folder}',
                      check_includes(files, arrows, source_owner, source_dir, src_folders),
                      f'{len(files)} files')
    report.record('includes include/braid',
                  check_public_headers(source_dir, arrows, source_owner, src_folders))

    executables = {os.path.relpath(t['filename'][0], build_dir): t['name'] for t in targets
                   if t['type'] == 'executable'}
    app_outputs = {out for out, name in executables.items() if name == 'braid'}
    problems, checked = check_sim_links(build_dir, executables, app_outputs)
    report.record('sim-link executables', problems, ', '.join(checked))
    report.record('sim-link symbols', check_sim_symbols(defined, undefined))

    print(f'{report.passed} passed, {report.failed} failed')
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main())
