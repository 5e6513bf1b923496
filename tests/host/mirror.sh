# Sourced by run.sh and make-image.sh: debian_mirror prints the Debian mirror to
# debootstrap the guest from: the host's own, taken from an apt source for bookworm
# (deb822 .sources or sources.list; a mirror+file: list resolved to its first
# entry), http(s) only, else deb.debian.org.
debian_mirror() {
  local uri
  uri=$(
    {
      # deb822: one stanza per paragraph; keep URIs of stanzas whose Suites has bookworm.
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uris = ""; suites = ""
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^URIs:/) uris = substr($i, 6)
                 if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
               }
               if (suites ~ / bookworm /) { n = split(uris, u, " "); for (j = 1; j <= n; j++) print u[j] } }' "$f"
      done
      grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -E 's/\[[^]]*\]//' | awk '$3 == "bookworm" {print $2}'
    } | while read -r u; do
      case $u in
        mirror+file:*) grep -m1 -E '^https?://' "${u#mirror+file:}" 2>/dev/null | awk '{print $1}' ;;
        http://* | https://*) echo "$u" ;;
      esac
    done | head -1
  )
  echo "${uri:-http://deb.debian.org/debian}"
}
