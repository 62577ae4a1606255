# The Debian package healthsweepd_VERSION_amd64.deb (CPack, DEB generator).
# Every install() rule and CPack setting of the project lives here; the
# top-level CMakeLists.txt only includes this file. Build it with
#   scripts/package          (configures and builds build/, then runs cpack)
#
# What goes where (see README "Installing the Debian package"):
#   /usr/sbin/healthsweepd                       the daemon (the unit's ExecStart)
#   /usr/bin/healthsweepctl                      the operator's command line (any user may run
#                                                it; POSTs need the token it can read)
#   /lib/systemd/system/healthsweepd.service     the unit (Type=notify, watchdog, hardening)
#   /usr/lib/sysusers.d/healthsweep.conf         user/group healthsweep (systemd-sysusers in postinst)
#   /etc/healthsweep/healthsweep.yaml            the default configuration, a conffile
#   /var/lib/healthsweep                         the state directory (healthsweep:healthsweep 0750, set in postinst)
#   /usr/share/man/man8/healthsweepd.8.gz        the manual pages
#   /usr/share/man/man1/healthsweepctl.1.gz
#   /usr/share/doc/healthsweepd/                 RUNBOOK.md, README.md, prometheus/ (scrape.yml,
#                                                healthsweep.rules.yml and its promtool tests),
#                                                alertmanager/alertmanager.yml, grafana/healthsweep.json,
#                                                systemd/realtime.conf (the SCHED_FIFO drop-in, not
#                                                installed as one), copyright, changelog.gz
# Maintainer scripts (deploy/debian/postinst, prerm, postrm) are those
# dh_installsysusers and dh_installsystemd would generate: systemd-sysusers,
# deb-systemd-helper enable/mask/purge, daemon-reload, deb-systemd-invoke
# start/restart/stop. The service is started on installation because the
# shipped configuration starts safely on a machine with nothing else
# installed (loopback listener, no Redis, engine, PostgreSQL or targets).
#
# Destinations are relative and CPack installs them under "/", so the
# package's paths are exactly the ones above; `cmake --install build
# --prefix /` would install the same layout by hand.
#
# lintian (bookworm 2.116.3) on the package: no error, no warning, nothing
# pedantic; `lintian -I -E --pedantic` leaves four info tags, each understood:
#   I: hardening-no-bindnow, I: hardening-no-fortify-functions
#     The binary is the one build/ builds and the tests exercise, with the
#     project's own flags (CMakeLists.txt: Release, -O3), not
#     dpkg-buildflags'; Debian's compiler and linker defaults make it PIE
#     with partial RELRO. Full hardening needs -Wl,-z,now,
#     -D_FORTIFY_SOURCE=2 and -fstack-protector-strong in the project's
#     compile flags (a change to CMakeLists.txt for all targets, not to
#     packaging).
#   I: package-supports-alternative-init-but-no-init.d-script
#     On purpose: the daemon is a Type=notify service with a watchdog and
#     relies on the unit's sandbox; there is no SysV script to ship.
#   I: spelling-error-in-binary foll follow
#     A false positive: the linker merges string tails, and `strings` shows
#     "...foll" glued to "for no query)" of a configuration message.
include_guard(GLOBAL)

set(HS_DEB_NAME healthsweepd)
set(HS_DEB_VERSION ${PROJECT_VERSION})
set(HS_DEB_MAINTAINER "healthsweep maintainers <maintainers@users.noreply.b-seed-d83ff6af.example>")
set(HS_DEB_SRC ${CMAKE_SOURCE_DIR}/deploy/debian)
set(HS_DEB_GEN ${CMAKE_BINARY_DIR}/packaging)
# The changelog's date: SOURCE_DATE_EPOCH when set (scripts/package sets it
# to the last commit's time, so two builds of one commit give one package).
string(TIMESTAMP HS_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)

# --- generated documentation: changelog.gz and the manual page ----------------
# Debian wants both compressed with gzip -9n (no name, no time stamp).
file(MAKE_DIRECTORY ${HS_DEB_GEN})
configure_file(${HS_DEB_SRC}/changelog.in ${HS_DEB_GEN}/changelog @ONLY)
configure_file(${HS_DEB_SRC}/healthsweepd.8 ${HS_DEB_GEN}/healthsweepd.8 @ONLY)
configure_file(${HS_DEB_SRC}/healthsweepctl.1 ${HS_DEB_GEN}/healthsweepctl.1 @ONLY)
foreach(doc changelog healthsweepd.8 healthsweepctl.1)
  execute_process(COMMAND gzip -9n -c ${HS_DEB_GEN}/${doc}
                  OUTPUT_FILE ${HS_DEB_GEN}/${doc}.gz
                  RESULT_VARIABLE hs_gzip_rc)
  if(NOT hs_gzip_rc EQUAL 0)
    message(FATAL_ERROR "packaging: gzip of ${doc} failed (${hs_gzip_rc})")
  endif()
endforeach()
# Reconfigure when the sources of generated files change.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${HS_DEB_SRC}/changelog.in ${HS_DEB_SRC}/healthsweepd.8 ${HS_DEB_SRC}/healthsweepctl.1)

# --- install rules -----------------------------------------------------------------
# Directories 0755 whatever the umask of whoever builds the package.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(HS_DATA_PERMS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(TARGETS healthsweepd RUNTIME DESTINATION usr/sbin)
# The operator's command line in usr/bin: operators run it, not only root.
install(TARGETS healthsweepctl RUNTIME DESTINATION usr/bin)
# Stripped the way dh_strip does (CPACK_STRIP_FILES would leave the .comment
# and .note sections, which lintian flags as binary-has-unneeded-section).
install(CODE "
  foreach(hs_rel usr/sbin/healthsweepd usr/bin/healthsweepctl)
    set(hs_bin \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${hs_rel}\")
    execute_process(COMMAND strip --remove-section=.comment --remove-section=.note --strip-unneeded \"\${hs_bin}\"
                    RESULT_VARIABLE hs_strip_rc)
    if(NOT hs_strip_rc EQUAL 0)
      message(FATAL_ERROR \"strip \${hs_bin} failed: \${hs_strip_rc}\")
    endif()
  endforeach()")

install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/healthsweepd.service
        DESTINATION lib/systemd/system PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/healthsweep.sysusers.conf
        DESTINATION usr/lib/sysusers.d RENAME healthsweep.conf PERMISSIONS ${HS_DATA_PERMS})
# A conffile (deploy/debian/conffiles): dpkg keeps the operator's edits on
# upgrade. It holds no secret (the token lives in auth.token_file), so 0644.
install(FILES ${CMAKE_SOURCE_DIR}/config/healthsweep.yaml
        DESTINATION etc/healthsweep PERMISSIONS ${HS_DATA_PERMS})
# Shipped root:root 0755 (lintian wants standard permissions in the archive);
# postinst makes it healthsweep:healthsweep 0750, as StateDirectoryMode= says.
install(DIRECTORY DESTINATION var/lib/healthsweep)

set(HS_DOC usr/share/doc/${HS_DEB_NAME})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/RUNBOOK.md ${CMAKE_SOURCE_DIR}/README.md
              ${HS_DEB_SRC}/copyright ${HS_DEB_GEN}/changelog.gz
        DESTINATION ${HS_DOC} PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/scrape.yml
              ${CMAKE_SOURCE_DIR}/deploy/prometheus/healthsweep.rules.yml
              ${CMAKE_SOURCE_DIR}/deploy/prometheus/healthsweep.rules.test.yml
        DESTINATION ${HS_DOC}/prometheus PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/alertmanager/alertmanager.yml
        DESTINATION ${HS_DOC}/alertmanager PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana/healthsweep.json
        DESTINATION ${HS_DOC}/grafana PERMISSIONS ${HS_DATA_PERMS})
# An example, not a drop-in in place: real-time scheduling is the operator's
# choice (README, "A host whose cores are busy").
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/realtime.conf
        DESTINATION ${HS_DOC}/systemd PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${HS_DEB_GEN}/healthsweepd.8.gz
        DESTINATION usr/share/man/man8 PERMISSIONS ${HS_DATA_PERMS})
install(FILES ${HS_DEB_GEN}/healthsweepctl.1.gz
        DESTINATION usr/share/man/man1 PERMISSIONS ${HS_DATA_PERMS})

# cpack's install step would otherwise build `all` first (tests, fuzzers,
# benchmarks); the package needs only healthsweepd and healthsweepctl, which
# scripts/package builds before it runs cpack.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

# --- CPack: the DEB generator ------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${HS_DEB_NAME})
set(CPACK_PACKAGE_VERSION ${HS_DEB_VERSION})
set(CPACK_PACKAGE_CONTACT ${HS_DEB_MAINTAINER})
set(CPACK_PACKAGE_VENDOR "healthsweep maintainers")
set(CPACK_PACKAGING_INSTALL_PREFIX "/")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
set(CPACK_STRIP_FILES OFF)   # stripped above
set(CPACK_DEBIAN_PACKAGE_NAME ${HS_DEB_NAME})
# A native package (no Debian revision): healthsweepd_0.1.0_amd64.deb.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${HS_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [=[liveness sweeps and remediation for agent workspaces
healthsweepd watches a fleet of workloads (usually one container each)
and tells, within milliseconds and without false alarms, which are dead:
from Redis heartbeats with a TTL, from the container engine (Docker Engine
API; Podman works) with HTTP and TCP checks, and from connection errors
reported to its hook. It restarts them safely (backoff, quarantine, and a
fail-safe against mass failures), records every change in PostgreSQL when
configured, and serves Prometheus metrics and an admin API.
.
It runs as a systemd service (Type=notify with watchdog) under its own
hardened system user. Prometheus rules, an Alertmanager example, a Grafana
dashboard and a runbook are in /usr/share/doc/healthsweepd; healthsweepctl
is the operator's command line (status, targets, reset, sweep, events).]=])
# Shared libraries the binary links: dpkg-shlibdeps (Boost JSON/URL,
# prometheus-cpp, spdlog, fmt, yaml-cpp, hiredis, libsystemd, OpenSSL, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Added to what dpkg-shlibdeps finds: systemd-sysusers runs in postinst
# (what debhelper's dh_installsysusers depends on, too).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers")
# libpq is not linked: store/libpq.cpp opens libpq.so.5 with dlopen when a
# `postgres` section needs it, so dpkg-shlibdeps cannot see it. Without it,
# a configuration with PostgreSQL stops at start with one line naming
# libpq5; everything else works. Hence Recommends (installed by default by
# apt), not Depends.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "redis-server, postgresql, docker.io | podman, prometheus, prometheus-alertmanager")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${HS_DEB_SRC}/postinst ${HS_DEB_SRC}/prerm ${HS_DEB_SRC}/postrm ${HS_DEB_SRC}/conffiles)
# Maintainer scripts 0755, conffiles 0644 whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
