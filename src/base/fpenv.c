#include "base/fpenv.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#define FTZ_DAZ 0x8040u /* bit 15 flush-to-zero, bit 6 denormals-are-zero */

ae_fpenv ae_fpenv_flush_denormals(void)
{
    ae_fpenv old = {_mm_getcsr()};
    _mm_setcsr(old.mxcsr | FTZ_DAZ);
    return old;
}

void ae_fpenv_restore(ae_fpenv saved)
{
    _mm_setcsr(saved.mxcsr);
}
#else
ae_fpenv ae_fpenv_flush_denormals(void)
{
    ae_fpenv old = {0};
    return old;
}

void ae_fpenv_restore(ae_fpenv saved)
{
    (void)saved;
}
#endif
