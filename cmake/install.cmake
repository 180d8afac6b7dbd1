# `cmake --install` (and `make install`, and the Debian package): the
# programs, man pages, example configuration, systemd unit, sysusers.d and
# tmpfiles.d files, and the documents an investigator needs (SPEC.md).
#
# The configuration lives in /etc whatever the prefix, as administrators
# look for it there; the store is /var/lib/custody because the unit's
# StateDirectory= names it so.
if(NOT DEFINED CMAKE_INSTALL_SYSCONFDIR)
	set(CMAKE_INSTALL_SYSCONFDIR /etc CACHE PATH
		"read-only single-machine data (DATADIR/etc)")
endif()
include(GNUInstallDirs)

set(CUSTODY_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/custody)
set(CUSTODY_STATE_DIR /var/lib/custody)
# systemd reads units, sysusers.d and tmpfiles.d below both /usr/lib and
# /usr/local/lib, so these follow the prefix.
set(CUSTODY_SYSTEMD_LIBDIR ${CMAKE_INSTALL_PREFIX}/lib)

install(TARGETS custodyd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS custody-verify custody-query custody-restore
	RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: one source format (scdoc), turned into roff by the build.
find_program(SCDOC scdoc REQUIRED)
set(custody_man_pages custodyd.8 custodyd.conf.5 custody-verify.1
	custody-query.1 custody-restore.1)
set(custody_man_outputs)
foreach(page ${custody_man_pages})
	string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
	set(src ${CMAKE_SOURCE_DIR}/man/${page}.scd)
	set(out ${CMAKE_BINARY_DIR}/man/${page})
	add_custom_command(OUTPUT ${out}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
		COMMAND ${SCDOC} < ${src} > ${out}
		DEPENDS ${src}
		COMMENT "man page ${page}")
	list(APPEND custody_man_outputs ${out})
	install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(custody_man ALL DEPENDS ${custody_man_outputs})

foreach(file custodyd.service custody.sysusers custody.tmpfiles)
	configure_file(${CMAKE_SOURCE_DIR}/dist/${file}.in
		${CMAKE_BINARY_DIR}/dist/${file} @ONLY)
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/dist/custodyd.service
	DESTINATION ${CUSTODY_SYSTEMD_LIBDIR}/systemd/system)
install(FILES ${CMAKE_BINARY_DIR}/dist/custody.sysusers
	DESTINATION ${CUSTODY_SYSTEMD_LIBDIR}/sysusers.d RENAME custody.conf)
install(FILES ${CMAKE_BINARY_DIR}/dist/custody.tmpfiles
	DESTINATION ${CUSTODY_SYSTEMD_LIBDIR}/tmpfiles.d RENAME custody.conf)

install(FILES README.md formats/SPEC.md verifier/VERIFY.md
	custodyd.conf.example DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES collector/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
	RENAME collector.md)

# The configuration: installed once, never over an administrator's edits;
# 0640 so that only root writes it and the custody group reads it (the
# group is set by tmpfiles.d, which also runs where no such user exists
# yet at install time).
install(DIRECTORY DESTINATION ${CUSTODY_CONF_DIR}
	DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
		GROUP_READ GROUP_EXECUTE)
install(CODE "
	set(conf \"\$ENV{DESTDIR}${CUSTODY_CONF_DIR}/custodyd.conf\")
	if(EXISTS \"\${conf}\")
		message(STATUS \"Kept: \${conf} (an existing configuration is never replaced)\")
	else()
		message(STATUS \"Installing: \${conf}\")
		file(COPY \"${CMAKE_SOURCE_DIR}/custodyd.conf.example\"
			DESTINATION \"\$ENV{DESTDIR}${CUSTODY_CONF_DIR}\"
			FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
		file(RENAME \"\$ENV{DESTDIR}${CUSTODY_CONF_DIR}/custodyd.conf.example\"
			\"\${conf}\")
	endif()
	# On the live system (no DESTDIR), as root: the user and directories
	# now, not at the next boot.
	if(\"\$ENV{DESTDIR}\" STREQUAL \"\")
		execute_process(COMMAND id -u OUTPUT_VARIABLE uid
			OUTPUT_STRIP_TRAILING_WHITESPACE)
		find_program(sysusers systemd-sysusers)
		find_program(tmpfiles systemd-tmpfiles)
		if(uid STREQUAL \"0\" AND sysusers AND tmpfiles)
			execute_process(COMMAND \${sysusers}
				${CUSTODY_SYSTEMD_LIBDIR}/sysusers.d/custody.conf)
			execute_process(COMMAND \${tmpfiles} --create
				${CUSTODY_SYSTEMD_LIBDIR}/tmpfiles.d/custody.conf)
		endif()
	endif()
")
