# Makefile: builds the lgbox appliance from pinned Debian inputs, configured with Kconfig.
#
#   make [O=dir] [V=1] [JOBS=n] [target]      (make help lists the targets)
#
# Flow: .config (kconfig-frontends) -> generated Linux/BusyBox config fragments -> kernel,
# BusyBox, lgbox, lg.ko -> staged root filesystems -> initramfs images (-> FIT image).
# Every expensive step ends in a stamp or a real file and generated fragments are only
# rewritten when their content changes, so a rebuild with nothing changed does nothing slow.

TOPDIR := $(CURDIR)
O ?= output
override O := $(abspath $(O))
DL ?= $(TOPDIR)/dl
override DL := $(abspath $(DL))
JOBS ?= 2
V ?= 0

# Command-line variables (O=, V=...) would otherwise reach the kernel's and BusyBox's own
# makefiles, where O= means something else: each sub-make gets what it needs explicitly.
MAKEOVERRIDES :=
export V

CONFIG := $(O)/.config
BUILD := $(O)/build
STAMPS := $(BUILD)/stamps
IMAGES := $(O)/images
SUPPORT := $(TOPDIR)/support
DEFAULT_DEFCONFIG := qemu-x86_64_defconfig

ifeq ($(V),1)
Q :=
else
Q := @
endif

# step TAG,TEXT: the one progress line a build step prints
step = @printf '  %-8s %s\n' '$(1)' '$(2)'
# qstrip: a Kconfig string value without its quotes
qstrip = $(strip $(subst ",,$(1)))
# move_if_changed: install $@.tmp as $@ only when it differs, keeping $@'s time otherwise
move_if_changed = if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

.DELETE_ON_ERROR:
.PHONY: all FORCE

all:

# ---------------------------------------------------------------------------------------
# Configuration

APPLETS_KCONFIG := $(BUILD)/lgbox/Config.in
# kconfig-frontends writes .config through a temporary file in its working directory and
# renames it, so it runs in $(O): an O= on another file system (a tmpfs /tmp) must work
KCONFIG_RUN = cd $(O) && KCONFIG_CONFIG=$(CONFIG) LGBOX_APPLETS_KCONFIG=$(APPLETS_KCONFIG)
DEFCONFIGS := $(sort $(patsubst board/%/defconfig,%_defconfig,$(wildcard board/*/defconfig)) \
	$(notdir $(wildcard board/*/*_defconfig)))

# Goals that work without a .config (or make one); any other goal reads $(CONFIG) first.
NO_CONFIG_GOALS := menuconfig %_defconfig savedefconfig olddefconfig list-defconfigs help \
	clean distclean packages packages-% test-fresh debian-disk
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
# Included, so make brings it up to date (and restarts) before anything else.
-include $(CONFIG)
endif

.PHONY: packages
packages:
	$(Q)$(SUPPORT)/inputs.sh packages build

# what running, testing and benchmarking need beyond the build (support/inputs.sh lists them)
packages-%:
	$(Q)$(SUPPORT)/inputs.sh packages $*

# The lgbox applet menu comes from lgbox/ itself and must exist before any kconfig tool runs.
$(APPLETS_KCONFIG): FORCE | packages
	$(Q)mkdir -p $(dir $@)
	$(Q)if [ -f lgbox/Makefile ]; then \
		$(MAKE) -s -C lgbox config-in OUT=$@.tmp; \
	else \
		printf '%s\n' 'menu "lgbox applets"' \
			'comment "No applets: lgbox/Makefile does not exist yet"' 'endmenu' >$@.tmp; \
	fi
	$(Q)$(move_if_changed)

# A missing .config gets the default board; a changed Kconfig or applet menu brings the
# existing one up to date with the new symbols' defaults.
$(CONFIG): Kconfig $(APPLETS_KCONFIG)
	$(Q)if [ -f $@ ]; then \
		printf '  %-8s %s\n' KCONFIG 'olddefconfig (Kconfig changed)'; \
		$(KCONFIG_RUN) kconfig-conf --olddefconfig $(TOPDIR)/Kconfig >/dev/null; \
	else \
		printf '  %-8s %s\n' KCONFIG 'no $(CONFIG): using $(DEFAULT_DEFCONFIG)'; \
		$(MAKE) --no-print-directory O=$(O) $(DEFAULT_DEFCONFIG) >/dev/null; \
	fi
	$(Q)touch $@

# defconfig_file NAME_defconfig: board/NAME/defconfig, else board/*/NAME_defconfig
defconfig_file = $(firstword $(wildcard board/$(1:_defconfig=)/defconfig board/*/$(1)))

%_defconfig: $(APPLETS_KCONFIG) FORCE
	$(Q)$(if $(call defconfig_file,$@),,echo "lgbox build: unknown defconfig '$@'" \
		"(known: $(DEFCONFIGS))" >&2; exit 1)
	$(call step,KCONFIG,$@ -> $(CONFIG))
	$(Q)mkdir -p $(O)
	$(Q)$(KCONFIG_RUN) kconfig-conf --defconfig=$(TOPDIR)/$(call defconfig_file,$@) \
		$(TOPDIR)/Kconfig >/dev/null

.PHONY: menuconfig olddefconfig savedefconfig list-defconfigs
menuconfig: $(APPLETS_KCONFIG)
	$(Q)mkdir -p $(O)
	$(Q)$(KCONFIG_RUN) kconfig-mconf $(TOPDIR)/Kconfig

need_config = test -f $(CONFIG) || \
	{ echo "lgbox build: no $(CONFIG) (run make <board>_defconfig)" >&2; exit 1; }

olddefconfig: $(APPLETS_KCONFIG)
	$(Q)$(need_config)
	$(Q)$(KCONFIG_RUN) kconfig-conf --olddefconfig $(TOPDIR)/Kconfig >/dev/null

# savedefconfig writes $(O)/defconfig, or DEFCONFIG=file (e.g. the board's own defconfig)
DEFCONFIG ?= $(O)/defconfig
savedefconfig: $(APPLETS_KCONFIG)
	$(Q)$(need_config)
	$(Q)$(KCONFIG_RUN) kconfig-conf --savedefconfig=$(abspath $(DEFCONFIG)) \
		$(TOPDIR)/Kconfig >/dev/null
	$(call step,SAVE,$(DEFCONFIG))

list-defconfigs:
	@$(foreach d,$(DEFCONFIGS),printf '  %-34s %s\n' '$(d)' '$(call defconfig_file,$(d))';)

# ---------------------------------------------------------------------------------------
# Selections read from .config

BOARD := $(call qstrip,$(CONFIG_BOARD_NAME))
BOARD_DIR := board/$(BOARD)
KERNEL_FRAGMENTS := $(call qstrip,$(CONFIG_KERNEL_FRAGMENTS))
BUSYBOX_FRAGMENTS := $(call qstrip,$(CONFIG_BUSYBOX_FRAGMENTS))
HOST_OVERLAYS := $(call qstrip,$(CONFIG_ROOTFS_HOST_OVERLAYS))
GUEST_OVERLAYS := $(call qstrip,$(CONFIG_ROOTFS_GUEST_OVERLAYS))
FIXED_GUESTS := $(call qstrip,$(CONFIG_ROOTFS_FIXED_GUESTS))
GUEST_CONFIG_DIR := $(call qstrip,$(CONFIG_ROOTFS_GUEST_CONFIG_DIR))
COMPRESSION := $(if $(CONFIG_INITRAMFS_XZ),xz,$(if $(CONFIG_INITRAMFS_ZSTD),zstd,$(if \
	$(CONFIG_INITRAMFS_NONE),none,gzip)))
COMPRESSION_EXT := $(patsubst %,.%,$(subst zstd,zst,$(subst gzip,gz,$(subst none,,$(COMPRESSION)))))
FIT_HASH := $(if $(CONFIG_IMAGE_FIT_SHA1),sha1,$(if $(CONFIG_IMAGE_FIT_CRC32),crc32,sha256))

# ---------------------------------------------------------------------------------------
# Linux: extracted once per pinned tarball and guest/ patch series, configured from
# tinyconfig + fragments, built with ccache. The source stamp lives in the source tree so a
# second output tree can share it (LINUX_SRC=...) without extracting again.

LINUX_SRC ?= $(BUILD)/linux-source-6.1
LINUX_OBJ := $(BUILD)/linux
LINUX_EXTRACTED := $(LINUX_SRC)/.lgbox-extracted
# like the source, installed headers can be shared with another output tree (LINUX_HEADERS=)
LINUX_HEADERS ?= $(BUILD)/linux-headers
KHDR := $(LINUX_HEADERS)/include
KHDR_STAMP := $(LINUX_HEADERS)/.lgbox-installed
GUEST_PATCHES := $(if $(wildcard guest/series),$(addprefix guest/,$(shell grep -v -e '^\#' -e '^$$' guest/series)))
# Same kernel, same object paths relative to $(BUILD), same ccache entries in any clone.
LINUX_MAKE = env CCACHE_BASEDIR=$(BUILD) $(MAKE) -C $(LINUX_SRC) O=$(1) -j$(JOBS) CC="ccache gcc" \
	KBUILD_BUILD_TIMESTAMP=0 KBUILD_BUILD_USER=lgbox KBUILD_BUILD_HOST=lgbox

# what the extracted tree is made of: its inputs.lock line and the guest patches' checksums;
# rewritten only when that changes, so a fresh checkout (new file times) does not re-extract
$(LINUX_SRC).inputs: FORCE | packages
	$(Q)mkdir -p $(dir $@)
	$(Q){ grep '^src linux ' inputs.lock && \
		$(if $(wildcard guest/series),sha256sum guest/series $(GUEST_PATCHES),true); } >$@.tmp
	$(Q)$(move_if_changed)

$(LINUX_EXTRACTED): $(LINUX_SRC).inputs
	$(call step,EXTRACT,linux-source-6.1 -> $(LINUX_SRC))
	$(Q)tarball=$$($(SUPPORT)/inputs.sh path linux $(DL)) && \
		rm -rf $(LINUX_SRC) && mkdir -p $(LINUX_SRC) && \
		tar -xJf $$tarball -C $(LINUX_SRC) --strip-components=1
	$(Q)for p in $(GUEST_PATCHES); do \
		printf '  %-8s %s\n' PATCH "$$p"; \
		patch -d $(LINUX_SRC) -p1 --batch --forward --quiet <$$p || \
		{ echo "lgbox build: $$p does not apply to linux-source-6.1 (listed in guest/series)" >&2; exit 1; }; \
	done
	$(Q)touch $@

# The ABI header the guest code (and lg.ko, whose Kbuild finds the tree's headers first)
# includes as <uapi/linux/lguest.h>: kept equal to the repository's, so a change to it
# rebuilds what uses it
LINUX_ABI_HEADER := $(LINUX_SRC)/include/uapi/linux/lguest.h
$(LINUX_ABI_HEADER): include/uapi/linux/lguest.h $(LINUX_EXTRACTED)
	$(Q)cp $< $@

kopt = $(1)=$(if $(filter y,$(2)),y,n)
LINUX_SELECTED = $(call kopt,CONFIG_VIRTIO_CONSOLE,$(CONFIG_GUEST_VIRTIO_CONSOLE)) \
	$(call kopt,CONFIG_VIRTIO_BLK,$(CONFIG_GUEST_VIRTIO_BLK)) \
	$(call kopt,CONFIG_VIRTIO_NET,$(CONFIG_GUEST_VIRTIO_NET)) \
	$(call kopt,CONFIG_HW_RANDOM_VIRTIO,$(CONFIG_GUEST_VIRTIO_RNG)) \
	CONFIG_RD_GZIP=y \
	$(call kopt,CONFIG_RD_XZ,$(CONFIG_INITRAMFS_XZ)) \
	$(call kopt,CONFIG_RD_ZSTD,$(CONFIG_INITRAMFS_ZSTD)) \
	$(if $(CONFIG_GUEST_LGUEST),CONFIG_LGUEST_GUEST=y)

# linux.fragment, all fragments in one, only tells by its content whether to reconfigure;
# merge and check read the fragments themselves so errors name the file the user wrote
LINUX_SELECTIONS := $(BUILD)/linux-selections.fragment
LINUX_FRAGMENT_FILES = $(KERNEL_FRAGMENTS) $(LINUX_SELECTIONS)

$(BUILD)/linux.fragment: FORCE | $(CONFIG)
	$(Q)$(if $(and $(CONFIG_GUEST_LGUEST),$(if $(wildcard guest/series),,y)), \
		echo "lgbox build: GUEST_LGUEST=y needs the guest/ patch series (guest/series" \
		"does not exist yet): disable it in make menuconfig (Guest kernel menu)" >&2; exit 1)
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo '# from $(CONFIG)' && printf '%s\n' $(LINUX_SELECTED); } >$(LINUX_SELECTIONS)
	$(Q)cat $(KERNEL_FRAGMENTS) $(LINUX_SELECTIONS) >$@.tmp
	$(Q)$(move_if_changed)

# kbuild's own tinyconfig/olddefconfig, our fragment merge in between, then a check that
# every requested option survived (a typo or unmet dependency stops the build here).
$(LINUX_OBJ)/.config: $(BUILD)/linux.fragment $(LINUX_EXTRACTED)
	$(call step,KCONFIG,linux: tinyconfig + $(KERNEL_FRAGMENTS) + selections)
	$(Q)mkdir -p $(LINUX_OBJ)
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/linux-config.log "linux tinyconfig" \
		$(call LINUX_MAKE,$(LINUX_OBJ)) tinyconfig
	$(Q)$(SUPPORT)/kconfig-fragment.sh merge $@ $(LINUX_FRAGMENT_FILES)
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/linux-config.log "linux olddefconfig" \
		$(call LINUX_MAKE,$(LINUX_OBJ)) olddefconfig
	$(Q)$(SUPPORT)/kconfig-fragment.sh check $@ $(LINUX_FRAGMENT_FILES)

$(STAMPS)/linux: $(LINUX_OBJ)/.config $(LINUX_ABI_HEADER)
	$(call step,LINUX,bzImage + modules (a clean build takes minutes; log: $(BUILD)/linux.log))
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/linux.log "linux build" \
		$(call LINUX_MAKE,$(LINUX_OBJ)) bzImage modules
	$(Q)mkdir -p $(dir $@) && touch $@

# uapi headers only need the source, so BusyBox and lgbox do not wait for the kernel
$(KHDR_STAMP): $(LINUX_EXTRACTED) $(LINUX_ABI_HEADER)
	$(call step,HEADERS,linux uapi headers -> $(KHDR))
	$(Q)rm -rf $(LINUX_HEADERS)
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/linux-headers.log "linux headers_install" \
		$(call LINUX_MAKE,$(BUILD)/linux-headers-obj) headers_install \
		INSTALL_HDR_PATH=$(LINUX_HEADERS)
	$(Q)touch $@

$(IMAGES)/bzImage: $(STAMPS)/linux
	$(Q)mkdir -p $(dir $@) && cp $(LINUX_OBJ)/arch/x86/boot/bzImage $@

# the kernel's initramfs list packer, compiled from the pinned source
GEN_INIT_CPIO := $(BUILD)/host/gen_init_cpio
$(GEN_INIT_CPIO): $(LINUX_EXTRACTED)
	$(call step,HOSTCC,gen_init_cpio)
	$(Q)mkdir -p $(dir $@) && gcc -O2 -o $@ $(LINUX_SRC)/usr/gen_init_cpio.c

.PHONY: linux linux-config linux-headers
linux: $(IMAGES)/bzImage
linux-config: $(LINUX_OBJ)/.config
linux-headers: $(KHDR_STAMP)

# ---------------------------------------------------------------------------------------
# BusyBox: Debian's source package (with Debian's patches), static, musl

BUSYBOX_SRC := $(BUILD)/busybox-1.35.0
BUSYBOX_MAKE = $(MAKE) -C $(BUSYBOX_SRC) -j$(JOBS) CC="ccache musl-gcc"

# debian_source NAME,DIR: DIR/.lgbox-extracted, Debian's source package NAME (fetched and
# checked by inputs.sh) unpacked with its patches into DIR, again whenever NAME's lines in
# inputs.lock (kept in DIR.inputs) change
define debian_source
$(2).inputs: FORCE | packages
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)grep '^src $(1) ' inputs.lock >$$@.tmp
	$$(Q)$$(move_if_changed)

$(2)/.lgbox-extracted: $(2).inputs
	$$(call step,EXTRACT,$(1) (Debian source package) -> $(2))
	$$(Q)dsc=$$$$($$(SUPPORT)/inputs.sh path $(1) $$(DL)) && rm -rf $(2) && \
		mkdir -p $$(BUILD) && \
		$$(SUPPORT)/logged.sh $$(BUILD)/$(1)-extract.log "dpkg-source -x $$$$dsc" \
		dpkg-source --no-check -x $$$$dsc $(2)
	$$(Q)touch $$@
endef

$(eval $(call debian_source,busybox,$(BUSYBOX_SRC)))

# as for Linux: busybox.fragment is the reconfigure trigger, the files are merged and checked
BUSYBOX_ADDED := $(BUILD)/busybox-added.fragment
BUSYBOX_FRAGMENT_FILES = $(BUSYBOX_FRAGMENTS) $(BUSYBOX_ADDED)

$(BUILD)/busybox.fragment: FORCE | $(CONFIG)
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo '# added by the lgbox build' && echo 'CONFIG_STATIC=y' && \
		echo 'CONFIG_EXTRA_CFLAGS="-isystem $(KHDR)"'; } >$(BUSYBOX_ADDED)
	$(Q)cat $(BUSYBOX_FRAGMENTS) $(BUSYBOX_ADDED) >$@.tmp
	$(Q)$(move_if_changed)

$(BUSYBOX_SRC)/.config: $(BUILD)/busybox.fragment $(BUSYBOX_SRC)/.lgbox-extracted
	$(call step,KCONFIG,busybox: allnoconfig + $(BUSYBOX_FRAGMENTS))
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/busybox-config.log "busybox allnoconfig" \
		$(BUSYBOX_MAKE) allnoconfig
	$(Q)$(SUPPORT)/kconfig-fragment.sh merge $@ $(BUSYBOX_FRAGMENT_FILES)
	$(Q)yes "" | $(SUPPORT)/logged.sh $(BUILD)/busybox-config.log "busybox oldconfig" \
		$(BUSYBOX_MAKE) oldconfig
	$(Q)$(SUPPORT)/kconfig-fragment.sh check $@ $(BUSYBOX_FRAGMENT_FILES)

$(STAMPS)/busybox: $(BUSYBOX_SRC)/.config $(KHDR_STAMP)
	$(call step,BUSYBOX,static musl build (log: $(BUILD)/busybox.log))
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/busybox.log "busybox build" $(BUSYBOX_MAKE)
	$(Q)mkdir -p $(dir $@) && touch $@

.PHONY: busybox
busybox: $(STAMPS)/busybox

# ---------------------------------------------------------------------------------------
# e2fsprogs: Debian's source package, static, musl; only mke2fs and e2fsck, with which the
# appliance formats and checks its data partition and a guest its disk (ext4)

E2FSPROGS_SRC := $(BUILD)/e2fsprogs-1.47.0
E2FSPROGS_OBJ := $(BUILD)/e2fsprogs
E2FSPROGS_BINS := $(E2FSPROGS_OBJ)/misc/mke2fs $(E2FSPROGS_OBJ)/e2fsck/e2fsck
# everything but the two programs and the libraries they need is left out
E2FSPROGS_CONFIGURE := --disable-nls --disable-fuse2fs --disable-defrag --disable-imager \
	--disable-resizer --disable-debugfs --disable-uuidd --disable-e2initrd-helper \
	--disable-backtrace --disable-tdb --enable-libuuid --enable-libblkid

$(eval $(call debian_source,e2fsprogs,$(E2FSPROGS_SRC)))

$(STAMPS)/e2fsprogs: $(E2FSPROGS_SRC)/.lgbox-extracted $(KHDR_STAMP)
	$(call step,E2FS,mke2fs + e2fsck: static musl build (log: $(BUILD)/e2fsprogs.log))
	$(Q)rm -rf $(E2FSPROGS_OBJ) && mkdir -p $(E2FSPROGS_OBJ)
	$(Q)cd $(E2FSPROGS_OBJ) && \
		$(SUPPORT)/logged.sh $(BUILD)/e2fsprogs.log "e2fsprogs configure" \
		$(E2FSPROGS_SRC)/configure CC="ccache musl-gcc" CFLAGS="-Os -isystem $(KHDR)" \
		LDFLAGS=-static $(E2FSPROGS_CONFIGURE)
	$(Q)$(SUPPORT)/logged.sh $(BUILD)/e2fsprogs.log "e2fsprogs build" \
		sh -c '$(MAKE) -C $(E2FSPROGS_OBJ) -j$(JOBS) libs && \
		$(MAKE) -C $(E2FSPROGS_OBJ)/misc -j$(JOBS) mke2fs && \
		$(MAKE) -C $(E2FSPROGS_OBJ)/e2fsck -j$(JOBS) e2fsck'
	$(Q)mkdir -p $(dir $@) && touch $@

.PHONY: e2fsprogs
e2fsprogs: $(STAMPS)/e2fsprogs

# ---------------------------------------------------------------------------------------
# lgbox and lg.ko: built by their own makefiles (incremental themselves) on every run;
# until a component's makefile exists it is skipped with a line saying so.

LGBOX_BIN := $(BUILD)/lgbox/lgbox
LG_KO := $(BUILD)/lg/lg.ko
LG_TESTS_DIR := $(BUILD)/lg-tests
LG_TESTS_STAMP := $(STAMPS)/lg-tests
skip = printf '  %-8s %s\n' SKIP '$(1)'
# the components' own makefiles, silent unless V=1 (errors still show)
SUBMAKE = $(MAKE) --no-print-directory $(if $(filter 1,$(V)),,-s)

$(LGBOX_BIN): $(KHDR_STAMP) FORCE | $(CONFIG)
	$(Q)if [ -f lgbox/Makefile ]; then \
		printf '  %-8s %s\n' LGBOX 'make -C lgbox (incremental)'; \
		$(SUBMAKE) -C lgbox O=$(BUILD)/lgbox CONFIG=$(CONFIG) KHDR=$(KHDR) CC=musl-gcc; \
	else $(call skip,lgbox (lgbox/Makefile does not exist yet)); fi

$(LG_KO): $(STAMPS)/linux FORCE
	$(Q)if [ "$(CONFIG_HOST_LG_MODULE)" != y ]; then $(call skip,lg.ko (disabled in .config)); \
	elif [ -f kernel/Makefile ]; then \
		printf '  %-8s %s\n' LG 'make -C kernel (lg.ko, incremental)'; \
		$(SUBMAKE) -C kernel KDIR=$(LINUX_OBJ) OUT=$(dir $@) \
			$(if $(CONFIG_HOST_LG_DEBUG),LG_DEBUG=y); \
	else $(call skip,lg.ko (kernel/Makefile does not exist yet)); fi

# the stamp moves only when the suite's files changed, so the rootfs is not restaged for nothing
$(LG_TESTS_STAMP): $(STAMPS)/linux $(KHDR_STAMP) FORCE
	$(Q)mkdir -p $(LG_TESTS_DIR) $(dir $@)
	$(Q)if [ "$(CONFIG_HOST_LG_TESTS)" != y ]; then rm -rf $(LG_TESTS_DIR)/*; \
	elif [ -f kernel/tests/Makefile ]; then \
		printf '  %-8s %s\n' LGTESTS 'make -C kernel/tests (incremental)'; \
		$(SUBMAKE) -C kernel/tests OUT=$(LG_TESTS_DIR) KDIR=$(LINUX_OBJ) KHDR=$(KHDR); \
	else $(call skip,hypervisor tests (kernel/tests/Makefile does not exist yet)); fi
	$(Q)if [ ! -f $@ ] || [ -n "$$(find $(LG_TESTS_DIR) -newer $@ | head -n 1)" ]; then touch $@; fi

.PHONY: lgbox lg
lgbox: $(LGBOX_BIN)
lg: $(LG_KO)

# bench/guest-native.py's workload, the same binary in both root filesystems
WORKLOAD_BIN := $(BUILD)/bench/lgbox-workload
$(WORKLOAD_BIN): bench/workload.c | packages
	$(call step,CC,$@)
	$(Q)mkdir -p $(dir $@) && musl-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -s -o $@ $<

# ---------------------------------------------------------------------------------------
# Root filesystems and images

HOST_INITRAMFS := $(IMAGES)/host-initramfs.cpio$(COMPRESSION_EXT)
# the battery of real programs that tests/debian-guest.py runs on the Debian disk
DEBIAN_BATTERY := $(TOPDIR)/tests/debian
GUEST_INITRAMFS := $(IMAGES)/guest-initramfs.cpio.gz
FIXED_GUEST_CONFS := $(foreach g,$(FIXED_GUESTS),$(GUEST_CONFIG_DIR)/$(g).conf)
# the bridge and disk images the fixed guests use, when the config directory has them
FIXED_GUEST_FILES := $(FIXED_GUEST_CONFS) $(if $(FIXED_GUESTS),$(wildcard $(GUEST_CONFIG_DIR)/network $(GUEST_CONFIG_DIR)/disks))
# overlay_files DIR...: the files under DIRs; none for no DIR (find would list the whole tree)
overlay_files = $(if $(1),$(shell find $(1) -type f 2>/dev/null))
ROOTFS_ENV = BUSYBOX_SRC=$(BUSYBOX_SRC) E2FSPROGS_BINS='$(E2FSPROGS_BINS)' \
	LGBOX_BIN=$(LGBOX_BIN) LG_KO=$(LG_KO) LG_TESTS_DIR=$(LG_TESTS_DIR) \
	WORKLOAD_BIN=$(WORKLOAD_BIN) DEBIAN_BATTERY=$(DEBIAN_BATTERY) \
	GUEST_KERNEL=$(IMAGES)/bzImage GUEST_INITRAMFS=$(GUEST_INITRAMFS) \
	FIXED_GUEST_FILES='$(FIXED_GUEST_FILES)'

# a file whose content (not time) says which settings shaped a staged tree
$(BUILD)/%.settings: FORCE
	$(Q)mkdir -p $(dir $@)
	$(Q)echo '$(SETTINGS_$*)' >$@.tmp
	$(Q)$(move_if_changed)
SETTINGS_rootfs-host = $(HOST_OVERLAYS) | $(FIXED_GUEST_FILES) | $(COMPRESSION)
SETTINGS_rootfs-guest = $(GUEST_OVERLAYS)

$(STAMPS)/rootfs-guest: $(STAMPS)/busybox $(STAMPS)/e2fsprogs $(WORKLOAD_BIN) \
		$(BUILD)/rootfs-guest.settings $(call overlay_files,$(GUEST_OVERLAYS)) | $(CONFIG)
	$(call step,ROOTFS,guest: busybox + e2fsprogs + $(GUEST_OVERLAYS))
	$(Q)$(ROOTFS_ENV) $(SUPPORT)/stage-rootfs.sh guest $(BUILD)/rootfs-guest $(GUEST_OVERLAYS)
	$(Q)touch $@

$(STAMPS)/rootfs-host: $(STAMPS)/busybox $(STAMPS)/e2fsprogs $(WORKLOAD_BIN) $(LGBOX_BIN) $(LG_KO) \
		$(LG_TESTS_STAMP) $(GUEST_INITRAMFS) $(IMAGES)/bzImage $(BUILD)/rootfs-host.settings \
		$(FIXED_GUEST_FILES) $(call overlay_files,$(HOST_OVERLAYS) $(DEBIAN_BATTERY)) | $(CONFIG)
	$(call step,ROOTFS,host: busybox + e2fsprogs + lgbox + lg.ko + guest images \
		+ $(HOST_OVERLAYS))
	$(Q)$(ROOTFS_ENV) $(SUPPORT)/stage-rootfs.sh host $(BUILD)/rootfs-host $(HOST_OVERLAYS)
	$(Q)touch $@

$(GUEST_INITRAMFS): $(STAMPS)/rootfs-guest $(GEN_INIT_CPIO)
	$(call step,CPIO,$@)
	$(Q)$(SUPPORT)/mkinitramfs.sh $(GEN_INIT_CPIO) $(BUILD)/rootfs-guest $@ gzip

$(HOST_INITRAMFS): $(STAMPS)/rootfs-host $(GEN_INIT_CPIO)
	$(call step,CPIO,$@)
	$(Q)rm -f $(IMAGES)/host-initramfs.cpio*
	$(Q)$(SUPPORT)/mkinitramfs.sh $(GEN_INIT_CPIO) $(BUILD)/rootfs-host $@ $(COMPRESSION)

# FIT image and U-Boot boot script (descriptions in board/qemu-x86_64-uboot/)
FIT_DIR := board/qemu-x86_64-uboot
FIT := $(IMAGES)/lgbox.itb
BOOT_SCRIPT := $(IMAGES)/boot.scr.uimg
SETTINGS_fit = $(FIT_HASH) $(CONFIG_IMAGE_FIT_SIGN) $(CONFIG_IMAGE_FIT_KEY_DIR) \
	$(CONFIG_IMAGE_FIT_KEY_NAME) | $(CONFIG_BOARD_CMDLINE)

$(FIT): $(IMAGES)/bzImage $(HOST_INITRAMFS) $(FIT_DIR)/lgbox.its $(BUILD)/fit.settings
	$(call step,MKIMAGE,$@ ($(FIT_HASH)$(if $(CONFIG_IMAGE_FIT_SIGN),$(comma) signed)))
	$(Q)$(SUPPORT)/mkfit.sh $(FIT_DIR)/lgbox.its $(BUILD)/lgbox.its $@ $(IMAGES)/bzImage \
		$(HOST_INITRAMFS) $(FIT_HASH) \
		$(if $(CONFIG_IMAGE_FIT_SIGN),$(call qstrip,$(CONFIG_IMAGE_FIT_KEY_DIR)) \
			$(call qstrip,$(CONFIG_IMAGE_FIT_KEY_NAME)))

$(BOOT_SCRIPT): $(FIT_DIR)/boot.cmd $(BUILD)/fit.settings
	$(call step,MKIMAGE,$@)
	$(Q)sed 's|@CMDLINE@|$(call qstrip,$(CONFIG_BOARD_CMDLINE))|' $< >$(BUILD)/boot.cmd
	$(Q)mkimage -q -A x86 -O linux -T script -C none -n "lgbox boot" \
		-d $(BUILD)/boot.cmd $@ >/dev/null

# GPT disk image (support/mkdisk.sh, genimage): the board's layout; a layout with an esp/
# tree beside it also gets the kernel and the host initramfs for its EFI system partition
DISK_LAYOUT := $(call qstrip,$(CONFIG_IMAGE_DISK_LAYOUT))
DISK := $(IMAGES)/disk.img
DISK_ESP := $(wildcard $(dir $(DISK_LAYOUT))esp)
DISK_BOOT_FILES := $(if $(DISK_ESP),$(IMAGES)/bzImage $(HOST_INITRAMFS))
SETTINGS_disk = $(DISK_LAYOUT) | $(CONFIG_BOARD_CMDLINE)

$(DISK): $(DISK_LAYOUT) $(call overlay_files,$(DISK_ESP)) $(DISK_BOOT_FILES) \
		$(SUPPORT)/mkdisk.sh $(BUILD)/disk.settings | packages
	$(call step,GENIMAGE,$@ ($(DISK_LAYOUT)))
	$(Q)$(SUPPORT)/mkdisk.sh $(DISK_LAYOUT) $@ $(BUILD)/disk \
		'$(call qstrip,$(CONFIG_BOARD_CMDLINE))' \
		$(if $(DISK_ESP),bzImage=$(IMAGES)/bzImage initramfs=$(HOST_INITRAMFS))

comma := ,
IMAGE_FILES := $(IMAGES)/bzImage $(HOST_INITRAMFS) $(GUEST_INITRAMFS) \
	$(if $(CONFIG_IMAGE_FIT),$(FIT) $(BOOT_SCRIPT)) $(if $(DISK_LAYOUT),$(DISK))

.PHONY: images
images: $(IMAGE_FILES)
all: images

# ---------------------------------------------------------------------------------------
# Running and testing

# what a board's run script needs to know, from .config
RUN_ENV = LGBOX_IMAGES=$(IMAGES) LGBOX_MEMORY=$(CONFIG_BOARD_MEMORY_MB) \
	LGBOX_CPUS=$(or $(LGBOX_CPUS),$(CONFIG_BOARD_CPUS)) \
	LGBOX_CMDLINE='$(call qstrip,$(CONFIG_BOARD_CMDLINE))'

.PHONY: run test
run: all packages-run
	$(call step,RUN,$(BOARD_DIR)/run (serial console here; Ctrl-A x quits QEMU))
	$(Q)$(RUN_ENV) $(BOARD_DIR)/run

# The Debian root disk that tests/debian-guest.py and bench/debian-guest.py give to guests,
# built once into the download cache (support/debian-disk.sh: a new one when its recipe
# changes)
.PHONY: debian-disk
debian-disk: packages-disk
	$(Q)$(SUPPORT)/debian-disk.sh build $(DL)

# unit and system tests both run even when the other fails; either failing fails the target
test: all packages-test debian-disk
	$(Q)status=0; \
	if [ -f lgbox/Makefile ]; then \
		$(MAKE) --no-print-directory -C lgbox test || status=1; \
	else $(call skip,lgbox unit tests (lgbox/Makefile does not exist yet)); fi; \
	O=$(O) DL=$(DL) tests/run || status=1; \
	[ $$status = 0 ] || echo "lgbox build: make test: some tests failed (FAIL lines above)" >&2; \
	exit $$status

# make test and make run again, in a clean Debian root made on the spot from a clone of
# FRESH_REV (default HEAD): what a fresh machine does with the README's two commands
FRESH_REV ?= HEAD
.PHONY: test-fresh
test-fresh: packages-fresh
	$(Q)$(SUPPORT)/test-fresh.sh $(O)/fresh $(FRESH_REV)

# Benchmarks print figures (ratios against native, measured in the same run); they
# assert nothing.  Each bench/*.sh and bench/*.py says what it measures.
.PHONY: bench
bench: all packages-bench debian-disk
	$(Q)for b in bench/*.sh bench/*.py; do \
		printf '  %-8s %s\n' BENCH "$$b"; \
		O=$(O) DL=$(DL) $$b || echo "lgbox build: $$b failed" >&2; \
	done

.PHONY: clean distclean
clean:
	$(call step,CLEAN,$(BUILD) $(IMAGES) (keeps $(CONFIG)))
	$(Q)rm -rf $(BUILD) $(IMAGES)

distclean:
	$(call step,CLEAN,$(O) (the download cache $(DL) stays))
	$(Q)rm -rf $(O)

.PHONY: help
help:
	@echo 'lgbox appliance build. Usage: make [O=dir] [V=1] [JOBS=n] [target]'
	@echo
	@echo 'Configuration:'
	@echo '  <name>_defconfig    new $$(O)/.config from a defconfig (list below)'
	@echo '  menuconfig          edit the configuration (kconfig-mconf)'
	@echo '  olddefconfig        update .config for a changed Kconfig, new options get defaults'
	@echo '  savedefconfig       minimal defconfig into $$(O)/defconfig (or DEFCONFIG=file)'
	@echo '  list-defconfigs     the known defconfigs and their files'
	@echo
	@echo 'Building (default target: all; a missing .config means $(DEFAULT_DEFCONFIG)):'
	@echo '  all                 every image in $$(O)/images'
	@echo '  linux               the kernel (bzImage); linux-config, linux-headers: parts of it'
	@echo '  busybox, lgbox, lg  BusyBox, the lgbox multicall binary, the lg.ko module'
	@echo '  e2fsprogs           mke2fs and e2fsck for the data partition and guest disks'
	@echo '  images              same as all: kernel, initramfs images, disk.img (the GPT disk'
	@echo '                      of IMAGE_DISK_LAYOUT), FIT image'
	@echo '  packages            install missing Debian packages of the build, check pins'
	@echo '  packages-GROUP      the same for GROUP run, test, bench, disk or fresh'
	@echo
	@echo 'Using:'
	@echo '  run                 build if needed and boot the appliance in QEMU (Ctrl-A x quits;'
	@echo '                      its disk: LGBOX_DISK, default images/disk.img)'
	@echo '  test                build, run lgbox unit tests and tests/*.sh|*.py (tests/run)'
	@echo '  test-fresh          make test and make run in a clean Debian root (mmdebstrap)'
	@echo '                      from a clone of FRESH_REV (default HEAD); as root'
	@echo '  bench               build, run the benchmarks in bench/ (figures, no assertions)'
	@echo '  debian-disk         the Debian root disk for guests into $$(DL) (mmdebstrap, cached)'
	@echo '  clean               remove build trees and images, keep .config'
	@echo '  distclean           remove the whole output directory'
	@echo '  help                this text'
	@echo
	@echo 'Variables: O=$(O)  DL=$(DL) (download cache)  JOBS=$(JOBS)  V=1 (show commands)'
	@echo
	@echo 'Boards (board/NAME/ holds what is board-specific: defconfig, fragments, disk layout, run):'
	@echo '  qemu-x86_64         QEMU loads kernel and initramfs; images/disk.img is its data disk'
	@echo '  qemu-x86_64-uboot   the same booted by U-Boot from the FIT image'
	@echo '  pc-x86_64-efi       real x86-64 PCs with UEFI: images/disk.img is the whole disk, to'
	@echo '                      write to a disk or USB stick (doc/building.md, "Real PCs")'
	@echo
	@echo 'Defconfigs:'
	@$(MAKE) --no-print-directory -s list-defconfigs
