/* jpeg.c: whole-image JPEG decode/encode over libjpeg-turbo's TurboJPEG API
 * (contract in jpeg.h). */
#include "jpeg.h"

#include <string.h>
#include <turbojpeg.h>

void jpeg_codec_free(JpegCodec *j) {
    if (!j) return;
    if (j->dec) tjDestroy(j->dec);
    if (j->enc) tjDestroy(j->enc);
    *j = (JpegCodec){ 0 };
}

/* A reason for bytes that do not start like a JPEG (SOI marker FF D8). */
static const char *sniff(const uint8_t *b, size_t n) {
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "a PNG image, not a JPEG (convert it to JPEG)";
    if (n >= 4 && !memcmp(b, "GIF8", 4)) return "a GIF image, not a JPEG (convert it to JPEG)";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "a WebP image, not a JPEG (convert it to JPEG)";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4))) return "a TIFF image, not a JPEG (convert it to JPEG)";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "a BMP image, not a JPEG (convert it to JPEG)";
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) return "a HEIF/AVIF/MP4 file, not a JPEG (convert it to JPEG)";
    size_t text = 0, look = n < 512 ? n : 512;
    for (size_t i = 0; i < look; i++) text += (b[i] >= 32 && b[i] < 127) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t';
    if (text == look) return "text, not a JPEG image";
    return "not a JPEG image (it does not start with the JPEG marker FF D8)";
}

/* libjpeg warnings after which the image is complete and correct. Anything
 * else is refused: TurboJPEG reports TJERR_WARNING whenever any warning was
 * seen, even if a fatal error ("no image") followed it, and its message is
 * always the last one, so only a known benign last message is accepted. */
static int benign(const char *msg) {
    static const char *const ok[] = {
        "extraneous bytes before marker",           /* JWRN_EXTRANEOUS_DATA: junk between segments */
        "unknown JFIF revision",                    /* JWRN_JFIF_MAJOR */
        "Unknown Adobe color transform",            /* JWRN_ADOBE_XFORM */
        "bad ICC marker",                           /* JWRN_BOGUS_ICC: the colour profile is ignored */
        "Application transferred too many scanlines",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strstr(msg, ok[i])) return 1;
    return 0;
}

/* libjpeg-turbo 2.1's handle can stay stuck in a failed state after an
 * error in tjDecompressHeader3 (every later call repeats the old message),
 * so a handle that reported anything is replaced before the next image. */
static void reset_decoder(JpegCodec *j) {
    tjDestroy(j->dec);
    j->dec = NULL;
}

static inline uint8_t luma601(unsigned r, unsigned g, unsigned b) {
    return (uint8_t)((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

DlStatus jpeg_decode(JpegCodec *j, const uint8_t *buf, size_t n, int want_c, int min_h, int min_w,
                     const char *name, uint8_t **out, int *h, int *w, int *c) {
    *out = NULL;
    if (n == 0) return dl_fail(DL_EFORMAT, "%s: empty file (0 bytes), not a JPEG image", name);
    if (n < 2 || buf[0] != 0xFF || buf[1] != 0xD8) return dl_fail(DL_EFORMAT, "%s: %s", name, sniff(buf, n));
    if (n > 0xFFFFFFFFul) return dl_fail(DL_EFORMAT, "%s: JPEG of %zu bytes is too large (4 GiB at most)", name, n);
    if (!j->dec && !(j->dec = tjInitDecompress()))
        return dl_fail(DL_EIO, "cannot start the JPEG decoder: %s", tjGetErrorStr2(NULL));
    int fw, fh, subsamp, cs;
    if (tjDecompressHeader3(j->dec, buf, (unsigned long)n, &fw, &fh, &subsamp, &cs) != 0) {
        int ok = tjGetErrorCode(j->dec) == TJERR_WARNING && benign(tjGetErrorStr2(j->dec));
        DlStatus st = ok ? DL_OK : dl_fail(DL_EFORMAT, "%s: not a readable JPEG: %s", name, tjGetErrorStr2(j->dec));
        reset_decoder(j);
        if (!ok) return st;
    }
    if (fw < 1 || fh < 1 || (int64_t)fw * fh > JPEG_MAX_PIXELS)
        return dl_fail(DL_EFORMAT, "%s: JPEG claims %dx%d pixels; expected 1 to %lld pixels", name, fw, fh,
                       (long long)JPEG_MAX_PIXELS);
    /* The smallest power-of-two reduction that keeps at least min_h x min_w. */
    int denom = 1;
    if (min_h > 0 && min_w > 0)
        while (denom < 8 && (fw + 2 * denom - 1) / (2 * denom) >= min_w && (fh + 2 * denom - 1) / (2 * denom) >= min_h)
            denom *= 2;
    int sw = (fw + denom - 1) / denom, sh = (fh + denom - 1) / denom;
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    int oc = want_c ? want_c : (cs == TJCS_GRAY ? 1 : 3);
    int pf = cmyk ? TJPF_CMYK : oc == 1 ? TJPF_GRAY : TJPF_RGB;
    size_t pixels = (size_t)sw * (size_t)sh;
    uint8_t *dst = dl_malloc(pixels * (size_t)tjPixelSize[pf]);
    if (!j->dec && !(j->dec = tjInitDecompress()))
        return dl_fail(DL_EIO, "cannot start the JPEG decoder: %s", tjGetErrorStr2(NULL));
    if (tjDecompress2(j->dec, buf, (unsigned long)n, dst, sw, 0, sh, pf, 0) != 0) {
        const char *msg = tjGetErrorStr2(j->dec);
        int ok = tjGetErrorCode(j->dec) == TJERR_WARNING && benign(msg);
        DlStatus st = ok ? DL_OK : dl_fail(DL_EFORMAT, "%s: damaged JPEG: %s", name, msg);
        reset_decoder(j);
        if (!ok) {
            dl_free(dst);
            return st;
        }
    }
    if (cmyk) {   /* (sh, sw, 4) CMYK, Adobe-inverted: 255 means no ink */
        uint8_t *rgb = dl_malloc(pixels * (size_t)oc);
        for (size_t p = 0; p < pixels; p++) {
            const uint8_t *q = dst + 4 * p;
            unsigned r = (q[0] * q[3] + 127u) / 255u, g = (q[1] * q[3] + 127u) / 255u, b = (q[2] * q[3] + 127u) / 255u;
            if (oc == 1) rgb[p] = luma601(r, g, b);
            else { rgb[3 * p] = (uint8_t)r; rgb[3 * p + 1] = (uint8_t)g; rgb[3 * p + 2] = (uint8_t)b; }
        }
        dl_free(dst);
        dst = rgb;
    }
    *out = dst;
    *h = sh;
    *w = sw;
    *c = oc;
    return DL_OK;
}

DlStatus jpeg_encode(JpegCodec *j, const uint8_t *img, int h, int w, int c, int quality,
                     uint8_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DL_CHECK((c == 1 || c == 3) && h > 0 && w > 0 && quality >= 1 && quality <= 100);
    if (!j->enc && !(j->enc = tjInitCompress()))
        return dl_fail(DL_EIO, "cannot start the JPEG encoder: %s", tjGetErrorStr2(NULL));
    int samp = c == 1 ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420;
    unsigned long cap = tjBufSize(w, h, samp), size = cap;
    uint8_t *buf = dl_malloc(cap);
    /* NOREALLOC: tjBufSize is the worst case, so our own buffer always fits. */
    if (tjCompress2(j->enc, img, w, 0, h, c == 1 ? TJPF_GRAY : TJPF_RGB, &buf, &size, samp, quality,
                    TJFLAG_NOREALLOC) != 0) {
        dl_free(buf);
        return dl_fail(DL_EIO, "cannot encode a %dx%d JPEG: %s", w, h, tjGetErrorStr2(j->enc));
    }
    *out = dl_realloc(buf, size);
    *n = size;
    return DL_OK;
}
