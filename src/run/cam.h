/* run/cam.h: pictures for report.html as JPEG data URIs (libjpeg-turbo):
 * an image thumbnail, and an image with a class activation map laid over it
 * (bilinear upsampling, jet colours). Small images are enlarged by an
 * integer factor (28x28 -> 84x84) so a browser shows them crisply. */
#ifndef DL_CAM_H
#define DL_CAM_H

#include "run/str.h"

#include <stdint.h>

#include "data/jpeg.h"

/* Append "data:image/jpeg;base64,..." of img (h, w, c) to *html. */
DlStatus cam_thumbnail(Str *html, JpegCodec *jc, const uint8_t *img, int h, int w, int c);
/* The same with map (P, Q) >= 0 as a heat map over the image. */
DlStatus cam_overlay(Str *html, JpegCodec *jc, const uint8_t *img, int h, int w, int c, const float *map, int P, int Q);

#endif
