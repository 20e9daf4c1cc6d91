#!/usr/bin/python3
"""The Debian packages: built from a copy of the source tree with
dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=nocheck: the unit tests
run in make check anyway), then checked without installing them:

- tributary-collector, tributary-agent and tributary-tools are built, each
  with its files (binaries, units, configuration, man pages) and
  dependencies (the daemons on tributary-tools, which needs adduser);
- the configuration points at /var/lib/tributary and is a conffile;
- the units run the packaged binaries with Type=notify as the tributary
  user; systemd-analyze verify finds nothing wrong in them (when it is
  installed) but for the binaries and man pages not installed here;
- the logrotate snippet parses;
- the maintainer scripts create the tributary user and enable and start
  the collector's and the agent's units, not the exporter's;
- the packaged binaries run;
- lintian reports no error (its warnings are printed).

Skipped (77) without dpkg-buildpackage, debhelper or the build
dependencies, or when the source tree has no debian/ directory.
"""

import os
import re
import shutil
import subprocess
import time

import harness

PACKAGES = ("tributary-collector", "tributary-agent", "tributary-tools")

FILES = {
    "tributary-collector": [
        "./usr/bin/tributary-collector",
        "./etc/tributary/collector.properties",
        "./lib/systemd/system/tributary-collector.service",
        "./usr/share/man/man8/tributary-collector.8.gz",
    ],
    "tributary-agent": [
        "./usr/bin/tributary-agent",
        "./etc/tributary/agent.conf",
        "./lib/systemd/system/tributary-agent.service",
        "./usr/share/man/man8/tributary-agent.8.gz",
    ],
    "tributary-tools": [
        "./usr/bin/tributary",
        "./lib/systemd/system/tributary-export.service",
        "./etc/logrotate.d/tributary",
        "./usr/share/man/man1/tributary.1.gz",
        "./usr/share/man/man1/tributary-export.1.gz",
        "./usr/share/bash-completion/completions/tributary",
        "./usr/share/doc/tributary-tools/copyright",
        "./usr/share/doc/tributary-tools/operations.md.gz",
    ],
}


def skip(why):
    harness.note("skipped: " + why)
    raise SystemExit(77)


def run(argv, cwd=None, env=None, check=True):
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        harness.fail("%s exited %d:\n%s" % (" ".join(argv), r.returncode, harness.tail(r.stdout + r.stderr)))
    return r


def copy_tree(src, dst):
    """The source files into dst: git's list in a checkout (with local changes), else the whole tree."""
    if os.path.isdir(os.path.join(src, ".git")) or os.path.isfile(os.path.join(src, ".git")):
        r = run(["git", "ls-files", "-z"], cwd=src, check=False)
        if r.returncode == 0:
            os.makedirs(dst)
            for rel in r.stdout.split("\0"):
                if not rel or not os.path.lexists(os.path.join(src, rel)):
                    continue
                os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
                shutil.copy2(os.path.join(src, rel), os.path.join(dst, rel), follow_symlinks=False)
            return
    # A release tree (make distcheck): leave out its build and install dirs.
    shutil.copytree(src, dst, symlinks=True,
                    ignore=shutil.ignore_patterns("_build", "_inst", "autom4te.cache"))


def deb_contents(deb):
    out = run(["dpkg-deb", "-c", deb]).stdout
    return {line.split()[5] for line in out.splitlines() if len(line.split()) >= 6}


def field(control, name):
    m = re.search(r"^ ?%s: (.*)$" % re.escape(name), control, re.M)
    return m.group(1) if m else ""


def check_package(ws, debs, pkg):
    deb = debs[pkg]
    files = deb_contents(deb)
    for f in FILES[pkg]:
        if f not in files:
            harness.fail("%s lacks %s" % (pkg, f))
    info = run(["dpkg-deb", "-I", deb]).stdout
    depends = field(info, "Depends")
    if pkg == "tributary-tools":
        harness.check("adduser" in depends, "tributary-tools depends on adduser")
    else:
        harness.check("tributary-tools (= " in depends, "%s depends on this tributary-tools" % pkg)
    root = ws.file("root-" + pkg)
    ctl = ws.file("control-" + pkg)
    run(["dpkg-deb", "-x", deb, root])
    run(["dpkg-deb", "-e", deb, ctl])
    with open(os.path.join(ctl, "conffiles")) as f:
        conffiles = f.read().split()
    for f in FILES[pkg]:
        if f.startswith("./etc/"):
            harness.check(f[1:] in conffiles, "%s: %s is a conffile" % (pkg, f[1:]))
    harness.note("%s: %d bytes, %d entries, depends on %s" % (pkg, os.path.getsize(deb), len(files), depends))
    return root, ctl


def read(path):
    with open(path) as f:
        return f.read()


def check_units(roots):
    units = []
    for pkg, daemon, conf in (("tributary-collector", "tributary-collector", "collector.properties"),
                              ("tributary-agent", "tributary-agent", "agent.conf")):
        unit = os.path.join(roots[pkg], "lib/systemd/system/%s.service" % daemon)
        text = read(unit)
        want = "ExecStart=/usr/bin/%s --config /etc/tributary/%s" % (daemon, conf)
        harness.check(want in text, "%s.service: %s" % (daemon, want))
        for line in ("Type=notify", "User=tributary", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "Restart=on-failure", "CapabilityBoundingSet=", "ExecReload=/bin/kill -HUP $MAINPID"):
            harness.check(re.search("^%s$" % re.escape(line), text, re.M),
                          "%s.service: %s" % (daemon, line))
        harness.check("@bindir@" not in text and "@sysconfdir@" not in text, "%s.service: install paths substituted" % daemon)
        units.append(unit)
    export = os.path.join(roots["tributary-tools"], "lib/systemd/system/tributary-export.service")
    harness.check("ExecStart=/usr/bin/tributary export " in read(export), "tributary-export.service runs /usr/bin/tributary export")
    units.append(export)
    props = read(os.path.join(roots["tributary-collector"], "etc/tributary/collector.properties"))
    harness.check(re.search(r"^log\.dirs=/var/lib/tributary/collector$", props, re.M),
                  "collector.properties: log.dirs=/var/lib/tributary/collector")
    agent = read(os.path.join(roots["tributary-agent"], "etc/tributary/agent.conf"))
    harness.check(re.search(r"^state_dir = /var/lib/tributary/agent$", agent, re.M),
                  "agent.conf: state_dir = /var/lib/tributary/agent")
    if shutil.which("systemd-analyze") is None:
        harness.note("systemd-analyze missing: units not verified")
        return
    r = run(["systemd-analyze", "verify"] + units, check=False)
    # The binaries and man pages are in the extracted trees, not installed.
    bad = [line for line in (r.stdout + r.stderr).splitlines()
           if line.strip() and "is not executable" not in line and "Command 'man " not in line]
    if bad:
        harness.fail("systemd-analyze verify:\n%s" % "\n".join(bad))
    harness.note("systemd-analyze verify: units accepted")


def check_logrotate(ws, roots):
    """The snippet parses (as the user running the test, for its 'su' line)."""
    if shutil.which("logrotate") is None:
        harness.note("logrotate missing: snippet not parsed")
        return
    text = read(os.path.join(roots["tributary-tools"], "etc/logrotate.d/tributary"))
    harness.check("/var/log/tributary/*.log {" in text, "the snippet rotates /var/log/tributary/*.log")
    me = run(["id", "-un"]).stdout.strip()
    group = run(["id", "-gn"]).stdout.strip()
    conf = ws.file("logrotate.conf")
    with open(conf, "w") as f:
        f.write(re.sub(r"^\s*su .*$", "\tsu %s %s" % (me, group), text, flags=re.M))
    r = run(["logrotate", "-d", "-s", ws.file("logrotate.state"), conf], check=False)
    errors = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("error:")]
    if errors:
        harness.fail("logrotate -d:\n%s" % "\n".join(errors))
    harness.note("logrotate -d: the snippet parses")


def check_scripts(ctls):
    tools = read(os.path.join(ctls["tributary-tools"], "postinst"))
    harness.check(re.search(r"adduser --system --group .*tributary", tools.replace("\\\n", " ")),
                  "tributary-tools postinst creates the tributary user")
    for pkg in ("tributary-collector", "tributary-agent"):
        post = read(os.path.join(ctls[pkg], "postinst"))
        harness.check("deb-systemd-helper enable '%s.service'" % pkg in post,
                      "%s postinst enables its unit" % pkg)
        harness.check("deb-systemd-invoke $_dh_action '%s.service'" % pkg in post,
                      "%s postinst starts its unit" % pkg)
        harness.check(os.path.exists(os.path.join(ctls[pkg], "prerm")), "%s has a prerm (stops the unit)" % pkg)
    # --no-enable: enabled again on upgrades only if the administrator did.
    harness.check("deb-systemd-helper debian-installed 'tributary-export.service'" in tools,
                  "the exporter's unit is not enabled at installation")
    harness.check("deb-systemd-invoke $_dh_action 'tributary-export.service'" not in tools,
                  "the exporter's unit is not started at installation")
    harness.note("maintainer scripts: user created; collector and agent enabled and started")


def body(ws):
    src = harness.srcdir()
    for tool in ("dpkg-buildpackage", "dh", "dpkg-deb", "lintian"):
        if shutil.which(tool) is None:
            skip("%s is not installed (apt-get install debhelper lintian)" % tool)
    if not os.path.isfile(os.path.join(src, "debian", "control")):
        skip("the source tree has no debian/")
    r = run(["dpkg-checkbuilddeps"], cwd=src, check=False)
    if r.returncode != 0:
        skip("build dependencies missing: %s" % r.stderr.strip())

    tree = ws.file("src/tributary")
    copy_tree(src, tree)
    env = dict(os.environ)
    env["DEB_BUILD_OPTIONS"] = "nocheck parallel=2"
    for k in ("top_builddir", "top_srcdir", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    t0 = time.monotonic()
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env, check=False)
    took = time.monotonic() - t0
    if r.returncode != 0:
        harness.fail("dpkg-buildpackage exited %d:\n%s" % (r.returncode, harness.tail(r.stdout + r.stderr, 80)))
    harness.note("dpkg-buildpackage took %.0f s" % took)

    outdir = os.path.dirname(tree)
    debs = {}
    for name in os.listdir(outdir):
        m = re.match(r"^(tributary-[a-z]+)_[^_]+_[a-z0-9]+\.deb$", name)
        if m:
            debs[m.group(1)] = os.path.join(outdir, name)
    for pkg in PACKAGES:
        if pkg not in debs:
            harness.fail("no %s package among %s" % (pkg, sorted(os.listdir(outdir))))
    roots, ctls = {}, {}
    for pkg in PACKAGES:
        roots[pkg], ctls[pkg] = check_package(ws, debs, pkg)
    check_units(roots)
    check_logrotate(ws, roots)
    check_scripts(ctls)

    for pkg, binary in (("tributary-collector", "tributary-collector"), ("tributary-tools", "tributary")):
        r = run([os.path.join(roots[pkg], "usr/bin", binary), "--version"], check=False)
        if r.returncode != 0:
            harness.fail("packaged %s --version: %d %s" % (binary, r.returncode, r.stdout + r.stderr))
        harness.note("packaged %s --version: %s" % (binary, r.stdout.strip()))
    r = run([os.path.join(roots["tributary-agent"], "usr/bin/tributary-agent"), "--check-config",
             "--config", os.path.join(roots["tributary-agent"], "etc/tributary/agent.conf")], check=False)
    if r.returncode != 0:
        harness.fail("packaged agent rejects its agent.conf: %s" % (r.stdout + r.stderr))
    harness.note("packaged agent accepts its agent.conf")

    changes = [n for n in os.listdir(outdir) if n.endswith(".changes")]
    if len(changes) != 1:
        harness.fail("want one .changes file, have %s" % changes)
    r = run(["lintian", "--no-tag-display-limit", os.path.join(outdir, changes[0])], check=False)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    errors = [t for t in tags if t.startswith("E: ")]
    if r.returncode != 0 and not errors:
        harness.fail("lintian exited %d: %s" % (r.returncode, r.stderr.strip()))
    for t in tags:
        if not t.startswith("I: "):
            print("# lintian: %s" % t)
    if errors:
        harness.fail("lintian errors:\n%s" % "\n".join(errors))
    harness.note("lintian: %d errors, %d warnings" % (len(errors), sum(t.startswith("W: ") for t in tags)))


if __name__ == "__main__":
    raise SystemExit(harness.main(body, timeout=600))
