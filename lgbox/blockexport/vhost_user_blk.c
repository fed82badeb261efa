/*
 * vhost-user-blk backend: placeholder until the shared virtqueue code
 * (lgbox/virtio/) lands; it refuses every frontend with a logged reason.
 */
#include "export.h"
#include "../lgbox.h"

void vhost_user_blk_serve(int fd, struct export *exp, const char *peer)
{
	(void)fd;
	(void)exp;
	lgbox_warn("vhost-user frontend %s refused: vhost-user-blk is not built yet", peer);
}
