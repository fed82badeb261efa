# boot.cmd: U-Boot script (becomes images/boot.scr.uimg) that fetches the FIT image from the
# TFTP server that served the script (QEMU's user network), checks every image hash in it
# (iminfo) and starts the bzImage (in place) and the initramfs with zboot. U-Boot's x86 bootm is
# not used: it does not accept a bzImage from a FIT (it wants the setup split out).
# The initramfs is copied to a page-aligned address first: Linux frees the initramfs pages
# after unpacking and warns (free_init_pages) about a start inside a page.
# @CMDLINE@ comes from BOARD_CMDLINE in .config.
setenv bootargs "@CMDLINE@"
setenv fit_addr 0x4000000
echo "lgbox: loading lgbox.itb over TFTP"
tftpboot ${fit_addr} lgbox.itb || reset
iminfo ${fit_addr} || reset
fdt addr ${fit_addr}
fdt get addr kernel_addr /images/kernel data
fdt get addr ramdisk_addr /images/ramdisk data
fdt get size ramdisk_size /images/ramdisk data
setenv initrd_addr 0x5000000
cp.b ${ramdisk_addr} ${initrd_addr} ${ramdisk_size}
zboot ${kernel_addr} 0 ${initrd_addr} ${ramdisk_size}
