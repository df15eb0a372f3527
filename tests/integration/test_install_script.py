"""The current version's install script is built from the SQL sources under
extension/ (Makefile: SQL_SOURCES), and committed as well.  `make sqlcheck`
compares the two; these tests run it on this tree, and on a copy whose
sources were changed after the build, which it must refuse.  (That every way
to reach a version builds the same objects is sql/upgrade.sql's business.)
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")


def make(tree, *targets):
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", tree,
                           "PG_CONFIG=" + PG_CONFIG] + list(targets),
                          capture_output=True, text=True, timeout=120)


def built_script(tree):
    with open(os.path.join(tree, "gc_fdw.control")) as f:
        version = re.search(r"^default_version = '([^']+)'", f.read(), re.M).group(1)
    return "gc_fdw--%s.sql" % version


class TestInstallScript(unittest.TestCase):

    def copy_of_tree(self):
        """The files `make sqlcheck` reads, in a scratch directory."""
        tree = tempfile.mkdtemp(prefix="gc_fdw_sqlcheck.")
        self.addCleanup(shutil.rmtree, tree)
        for name in ("Makefile", "gc_fdw.control", built_script(ROOT)):
            shutil.copy2(os.path.join(ROOT, name), tree)
        shutil.copytree(os.path.join(ROOT, "extension"), os.path.join(tree, "extension"))
        return tree

    def test_committed_script_is_what_its_sources_build(self):
        proc = make(ROOT, "sqlcheck")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_a_source_changed_after_the_build_is_refused(self):
        tree = self.copy_of_tree()
        with open(os.path.join(tree, "extension", "sync_users.sql"), "a") as f:
            f.write("-- a change not built into the install script\n")
        proc = make(tree, "sqlcheck")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("+-- a change not built into the install script", proc.stdout)
        self.assertIn("differs from its sources: run make and commit it", proc.stderr)

        # make rebuilds it, and then the check passes
        self.assertEqual(make(tree, built_script(tree)).returncode, 0)
        proc = make(tree, "sqlcheck")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_a_hand_edit_of_the_built_script_is_refused(self):
        tree = self.copy_of_tree()
        path = os.path.join(tree, built_script(tree))
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("COMMENT ON SCHEMA gc_fdw IS '", "COMMENT ON SCHEMA gc_fdw IS 'edited: ", 1))
        proc = make(tree, "sqlcheck")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("-COMMENT ON SCHEMA gc_fdw IS 'edited: ", proc.stdout)


if __name__ == "__main__":
    unittest.main()
