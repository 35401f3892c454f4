/*
 * report (XML): what the JUnit and HTML writers share. libxml2's text writer does the
 * escaping; what it cannot do is carry bytes that XML 1.0 forbids even as character
 * references (most C0 controls) or invalid UTF-8, which server logs do contain, so
 * every text goes through rb_report_xml_clean() first.
 */
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/report.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *p)
{
  size_t n;
  unsigned cp;

  if(p[0] < 0x80)
    return 1;
  if(p[0] >= 0xc2 && p[0] <= 0xdf) {
    n = 2;
    cp = p[0] & 0x1f;
  }
  else if(p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    cp = p[0] & 0x0f;
  }
  else if(p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    cp = p[0] & 0x07;
  }
  else
    return 0;
  for(size_t i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* overlong forms, surrogates, beyond U+10FFFF, and U+FFFE/U+FFFF are not XML */
  if((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
     cp == 0xfffe || cp == 0xffff)
    return 0;
  return n;
}

char *rb_report_xml_clean(const char *text)
{
  size_t len = text ? strlen(text) : 0, o = 0;
  char *out = malloc(len + 1);
  const unsigned char *p = (const unsigned char *)(text ? text : "");

  if(!out)
    return NULL;
  while(*p) {
    size_t n = utf8_sequence(p);

    if(n == 1 && *p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
      n = 0;
    if(!n) {
      out[o++] = '?';
      p++;
      continue;
    }
    memcpy(out + o, p, n);
    o += n;
    p += n;
  }
  out[o] = '\0';
  return out;
}

int rb_report_xml_text(xmlTextWriterPtr w, const char *text)
{
  char *clean = rb_report_xml_clean(text);
  int rc;

  if(!clean)
    return -1;
  rc = xmlTextWriterWriteString(w, BAD_CAST clean);
  free(clean);
  return rc;
}

int rb_report_xml_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
  char *clean = rb_report_xml_clean(value);
  int rc;

  if(!clean)
    return -1;
  rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST clean);
  free(clean);
  return rc;
}

/* libxml2 would print its own "I/O error" line for a failed write and stop; the
   stream keeps the error instead, and output.c reports it once, naming the file. */
static int write_to_file(void *f, const char *buf, int len)
{
  fwrite(buf, 1, (size_t)len, f);
  return len;
}

xmlTextWriterPtr rb_report_xml_writer(FILE *f)
{
  xmlOutputBufferPtr out = xmlOutputBufferCreateIO(write_to_file, NULL, f, NULL); /* f stays open */
  xmlTextWriterPtr w;

  if(!out)
    return NULL;
  if(!(w = xmlNewTextWriter(out)))
    xmlOutputBufferClose(out);
  return w;
}
