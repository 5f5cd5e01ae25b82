"""Fails when sibling modules of a crate import each other in a cycle (read from `use` paths; tests excluded). Usage: module-cycles.py <crate>/src"""
import os, re, sys, itertools
root = sys.argv[1]  # crate src dir
mods = {}  # module path tuple -> file
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        rel = os.path.relpath(os.path.join(dp, f), root)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib'): rel = rel[:-1]
        mods[tuple(rel)] = os.path.join(dp, f)
def strip_tests(src):
    i = src.find('#[cfg(test)]')
    return src if i < 0 else src[:i]
edges = {}
for m, f in mods.items():
    src = strip_tests(open(f).read())
    src = re.sub(r'//.*', '', src)
    deps = set()
    for path in re.findall(r'\b((?:crate|super|self)(?:::\w+)+)', src):
        parts = path.split('::')
        if parts[0] == 'crate': base = []; rest = parts[1:]
        elif parts[0] == 'self': base = list(m); rest = parts[1:]
        else:
            base = list(m); 
            while parts and parts[0] == 'super': base = base[:-1]; parts = parts[1:]
            rest = parts
        # longest existing module prefix
        full = base + rest
        for k in range(len(full), 0, -1):
            if tuple(full[:k]) in mods: deps.add(tuple(full[:k])); break
    # grouped imports like use crate::{a, b::c}
    for grp in re.findall(r'use\s+crate::\{([^;]*)\}', src, re.S):
        for name in re.findall(r'(?:^|,|\{)\s*(\w+)', grp):
            if (name,) in mods: deps.add((name,))
    for grp in re.findall(r'use\s+super::\{([^;]*)\}', src, re.S):
        for name in re.findall(r'(?:^|,|\{)\s*(\w+)', grp):
            t = tuple(list(m[:-1]) + [name])
            if t in mods: deps.add(t)
    edges[m] = deps - {m}
# project to sibling level: for each parent P, graph over children of P
def child_of(p, x):
    return len(x) > len(p) and x[:len(p)] == p
found = False
parents = set(k[:-1] for k in mods if k)
for p in sorted(parents):
    kids = sorted({x[:len(p)+1] for x in mods if child_of(p, x)})
    g = {k: set() for k in kids}
    for m, ds in edges.items():
        if not (m in kids or any(child_of(k, m) for k in kids)): continue
        src = m[:len(p)+1]
        for d in ds:
            if child_of(p, d) or d in kids:
                dst = d[:len(p)+1]
                if dst != src and not child_of(src, d): g[src].add(dst)
    # find cycles via DFS
    color = {}
    def dfs(u, stack):
        global found
        color[u] = 1; stack.append(u)
        for v in g[u]:
            if color.get(v) == 1:
                cyc = stack[stack.index(v):] + [v]
                print('cycle:', ' -> '.join('::'.join(c) for c in cyc)); found = True
            elif v not in color: dfs(v, stack)
        stack.pop(); color[u] = 2
    for k in kids:
        if k not in color: dfs(k, [])
print('module-cycles.py:', len(mods), 'modules,', 'cycles found' if found else 'no cycle among sibling modules')
sys.exit(1 if found else 0)
