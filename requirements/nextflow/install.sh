#!/usr/bin/env bash
# Installs the pinned Nextflow engine (requirements/nextflow/pom.xml) without its launcher script or
# plugin registry: Maven resolves the jars from Maven Central, and a `nextflow` launcher that starts
# them from a plain class path is written beside them.
#
#   requirements/nextflow/install.sh [FOLDER]     (default: .cache/nextflow in the checkout)
#
# FOLDER/<version>/ is self-contained (lib/, home/, nextflow): on an offline cluster, run this on a
# machine with internet and copy that folder, then call FOLDER/<version>/nextflow run ...
# Needs Java 17+ and Maven 3. Does nothing when the launcher is already there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
version=$(sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' "$pom")
root=${1:-$here/../../.cache/nextflow}
mkdir -p "$root"
root=$(cd "$root" && pwd)
dest=$root/$version
if [[ -x $dest/nextflow && -f $dest/lib/nextflow-$version.jar ]]; then
    touch "$dest/nextflow"  # up to date (for make)
    echo "$dest/nextflow"
    exit 0
fi

staging=$(mktemp -d "$root/.install-$version.XXXXXX")
trap 'rm -rf "$staging"' EXIT
echo "resolving Nextflow $version from Maven Central into $dest" >&2
mvn --batch-mode --quiet -Dstyle.color=never -f "$pom" \
    -Dmaven.repo.local="$root/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$staging/lib" >&2
mkdir -p "$staging/home"

# The --add-opens flags are those of Nextflow's official launcher for Java 9 and later.
cat > "$staging/nextflow" <<LAUNCHER
#!/usr/bin/env bash
# Nextflow $version started from its Maven Central jars (written by requirements/nextflow/install.sh).
# No plugin is downloaded and no update is looked for: the scACT pipeline needs neither.
here=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
export NXF_HOME=\${NXF_HOME:-\$here/home}
export NXF_OFFLINE=\${NXF_OFFLINE:-true}
export NXF_DISABLE_CHECK_LATEST=true
java=\${JAVA_HOME:+\$JAVA_HOME/bin/}java
exec "\$java" -Dfile.encoding=UTF-8 -Djava.awt.headless=true \${NXF_OPTS:-} \\
    --add-opens=java.base/java.lang=ALL-UNNAMED \\
    --add-opens=java.base/java.io=ALL-UNNAMED \\
    --add-opens=java.base/java.nio=ALL-UNNAMED \\
    --add-opens=java.base/java.net=ALL-UNNAMED \\
    --add-opens=java.base/java.util=ALL-UNNAMED \\
    --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED \\
    --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \\
    --add-opens=java.base/java.nio.file.spi=ALL-UNNAMED \\
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \\
    --add-opens=java.base/sun.nio.fs=ALL-UNNAMED \\
    --add-opens=java.base/sun.net.www.protocol.http=ALL-UNNAMED \\
    --add-opens=java.base/sun.net.www.protocol.https=ALL-UNNAMED \\
    --add-opens=java.base/sun.net.www.protocol.ftp=ALL-UNNAMED \\
    --add-opens=java.base/sun.net.www.protocol.file=ALL-UNNAMED \\
    --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED \\
    --add-opens=java.base/jdk.internal.vm=ALL-UNNAMED \\
    --add-opens=java.base/java.util.regex=ALL-UNNAMED \\
    -cp "\$here/lib/*" nextflow.cli.Launcher "\$@"
LAUNCHER
chmod +x "$staging/nextflow"
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
echo "$dest/nextflow"
