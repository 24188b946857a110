// A one-line live progress bar (step, loss, tokens/s, ETA) redrawn in place on a terminal; when the output is
// redirected it prints a plain line every tenth of the run instead, so logs stay readable.
using System.Diagnostics;

namespace ResidualLM.Cli;

/// <summary>Progress of a run of a known number of steps.</summary>
public sealed class ProgressLine(int totalSteps, int startStep)
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly bool live = !Console.IsOutputRedirected;
    long lastDraw;
    int lastLoggedTenth = -1;
    bool drawn;

    /// <summary>Shows the state after <paramref name="step"/>.</summary>
    public void Update(int step, double loss, double tokensPerSecond)
    {
        double done = (double)(step - startStep) / Math.Max(1, totalSteps - startStep);
        double eta = done > 0 ? clock.Elapsed.TotalSeconds * (1 - done) / done : double.NaN;
        string text = $"step {step}/{totalSteps}  loss {loss:F4}  {tokensPerSecond:F0} tok/s  ETA {Format(eta)}";
        if (live)
        {
            if (clock.ElapsedMilliseconds - lastDraw < 100 && step < totalSteps) return;
            lastDraw = clock.ElapsedMilliseconds;
            const int Width = 24;
            int filled = (int)Math.Round(Width * (double)step / Math.Max(1, totalSteps));
            Console.Write($"\r[{new string('#', filled)}{new string('-', Width - filled)}] {text}   ");
            drawn = true;
        }
        else
        {
            int tenth = (int)(10.0 * step / Math.Max(1, totalSteps));
            if (tenth == lastLoggedTenth) return;
            lastLoggedTenth = tenth;
            Console.WriteLine(text);
        }
    }

    /// <summary>Ends the live line so that other output starts on a fresh line.</summary>
    public void Finish()
    {
        if (!drawn) return;
        Console.WriteLine();
        drawn = false;
    }

    static string Format(double seconds) => double.IsFinite(seconds)
        ? seconds >= 3600 ? $"{seconds / 3600:F1}h" : seconds >= 60 ? $"{(int)seconds / 60}m{(int)seconds % 60:D2}s" : $"{seconds:F0}s"
        : "?";
}
