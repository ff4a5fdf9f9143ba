"""What the commands do beyond compiling: compile, lock and roll out with their checks and summaries
(compiling.py), publish a branch or OCI artifacts (publish.py, oci.py), scaffold a repository (scaffold.py), import
a cluster's inventory (inventory_import/), and write what editors and the reference docs read (editor.py,
schemadocs.py). Each is a library function the command line calls; none prints."""
