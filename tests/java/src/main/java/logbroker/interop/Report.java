package logbroker.interop;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One JSON object per line on stdout, read by the pytest that started the program. Values are
 * strings, numbers, booleans, nulls, lists and maps of those; everything else is written as its
 * string form. Logging goes to stderr, so stdout holds only these lines.
 */
final class Report {
    private Report() {}

    /** A check's outcome: {"check": name, "ok": true, ...fields}. */
    static void ok(String check, Map<String, ?> fields) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("check", check);
        line.put("ok", true);
        line.putAll(fields);
        emit(line);
    }

    /** A check that threw: {"check": name, "ok": false, "error": class, "message": text}. */
    static void failed(String check, Throwable error) {
        Throwable cause = error;
        while ((cause instanceof java.util.concurrent.ExecutionException
                || cause instanceof java.util.concurrent.CompletionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("check", check);
        line.put("ok", false);
        line.put("error", cause.getClass().getName());
        line.put("message", String.valueOf(cause.getMessage()));
        emit(line);
    }

    static synchronized void emit(Map<String, ?> line) {
        StringBuilder out = new StringBuilder();
        write(out, line);
        System.out.println(out);
        System.out.flush();
    }

    private static void write(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long
                || value instanceof Short) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) out.append(',');
                first = false;
                string(out, String.valueOf(e.getKey()));
                out.append(':');
                write(out, e.getValue());
            }
            out.append('}');
        } else if (value instanceof Iterable<?> items) {
            out.append('[');
            boolean first = true;
            for (Object item : items) {
                if (!first) out.append(',');
                first = false;
                write(out, item);
            }
            out.append(']');
        } else {
            string(out, value.toString());
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}
