// A minimal SVG text builder for the lab charts: escaped text, invariant numbers, and a guard that no NaN or
// infinite coordinate is ever written (a chart that hits it has a bug: values must be filtered before mapping).
using System.Globalization;
using System.Text;

namespace ResidualLM.Lab.Charts;

/// <summary>Appends SVG elements to a string. Every coordinate goes through <see cref="Number"/>, which rejects non-finite values.</summary>
internal sealed class SvgBuilder
{
    /// <summary>Fonts every platform has; no web fonts (the report must work offline).</summary>
    public const string FontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

    readonly StringBuilder text = new();

    /// <summary>Escapes text for element content and attribute values (quotes included).</summary>
    public static string Escape(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "";
        var escaped = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            switch (c)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '"': escaped.Append("&quot;"); break;
                case '\'': escaped.Append("&#39;"); break;
                // Control characters other than tab/newline are not allowed in XML 1.0 at all.
                case < ' ' when c is not '\t' and not '\n' and not '\r': escaped.Append('\uFFFD'); break;
                default: escaped.Append(c); break;
            }
        }
        return escaped.ToString();
    }

    /// <summary>A coordinate or length with at most two decimals. Throws on NaN or infinity.</summary>
    public static string Number(double value)
    {
        if (!double.IsFinite(value)) throw new InvalidOperationException($"chart bug: non-finite coordinate {value}");
        return Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);
    }

    /// <summary>Appends raw markup (already escaped).</summary>
    public SvgBuilder Raw(string markup)
    {
        text.Append(markup);
        return this;
    }

    public SvgBuilder Line(double x1, double y1, double x2, double y2, string stroke, double width = 1, string? dash = null)
    {
        text.Append($"<line x1=\"{Number(x1)}\" y1=\"{Number(y1)}\" x2=\"{Number(x2)}\" y2=\"{Number(y2)}\" stroke=\"{stroke}\" stroke-width=\"{Number(width)}\"");
        if (dash is not null) text.Append($" stroke-dasharray=\"{dash}\"");
        text.Append("/>\n");
        return this;
    }

    /// <summary>A text label. <paramref name="anchor"/> is start, middle or end; <paramref name="rotate"/> in degrees about (x, y).</summary>
    public SvgBuilder Text(double x, double y, string content, string anchor = "start", double size = 12, string fill = "#222",
        string? weight = null, double rotate = 0, string? baseline = null)
    {
        text.Append($"<text x=\"{Number(x)}\" y=\"{Number(y)}\" font-size=\"{Number(size)}\" fill=\"{fill}\" text-anchor=\"{anchor}\"");
        if (weight is not null) text.Append($" font-weight=\"{weight}\"");
        if (baseline is not null) text.Append($" dominant-baseline=\"{baseline}\"");
        if (rotate != 0) text.Append($" transform=\"rotate({Number(rotate)} {Number(x)} {Number(y)})\"");
        text.Append('>').Append(Escape(content)).Append("</text>\n");
        return this;
    }

    /// <summary>A rectangle, optionally with a tooltip.</summary>
    public SvgBuilder Rect(double x, double y, double width, double height, string fill, string? tooltip = null,
        string? stroke = null, string? cssClass = null)
    {
        text.Append($"<rect x=\"{Number(x)}\" y=\"{Number(y)}\" width=\"{Number(Math.Max(0, width))}\" height=\"{Number(Math.Max(0, height))}\" fill=\"{fill}\"");
        if (stroke is not null) text.Append($" stroke=\"{stroke}\"");
        if (cssClass is not null) text.Append($" class=\"{cssClass}\"");
        return CloseWithTooltip("rect", tooltip);
    }

    /// <summary>A path with data <paramref name="data"/> (built from <see cref="Number"/>-formatted values).</summary>
    public SvgBuilder Path(string data, string fill, string? stroke = null, double strokeWidth = 1, string? tooltip = null, string? cssClass = null)
    {
        text.Append($"<path d=\"{data}\" fill=\"{fill}\"");
        if (stroke is not null) text.Append($" stroke=\"{stroke}\" stroke-width=\"{Number(strokeWidth)}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
        if (cssClass is not null) text.Append($" class=\"{cssClass}\"");
        return CloseWithTooltip("path", tooltip);
    }

    SvgBuilder CloseWithTooltip(string element, string? tooltip)
    {
        if (tooltip is null) text.Append("/>\n");
        else text.Append("><title>").Append(Escape(tooltip)).Append("</title></").Append(element).Append(">\n");
        return this;
    }

    /// <summary>Opens a group; close it with <see cref="EndGroup"/>.</summary>
    public SvgBuilder Group(string? cssClass = null, string? label = null)
    {
        text.Append("<g");
        if (cssClass is not null) text.Append($" class=\"{cssClass}\"");
        if (label is not null) text.Append($" aria-label=\"{Escape(label)}\"");
        text.Append(">\n");
        return this;
    }

    public SvgBuilder EndGroup() => Raw("</g>\n");

    public override string ToString() => text.ToString();
}
