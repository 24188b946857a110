// The worked examples of the seed texts, computed with the engine's tensors and autograd: the residual stream as a
// running sum of edits, three stations of a stream, the local gradient 1 + f'(x), and tanh(x) against x + tanh(x).
using System.Globalization;
using ResidualLM.Tensors;
using O = ResidualLM.Ops.Ops;

namespace ResidualLM.Lab.Experiments;

/// <summary>
/// Small worked examples of y = x + f(x): each block adds an edit to the stream, and dy/dx = 1 + f'(x), so the
/// gradient keeps a path of exactly 1 whatever the edit does. No options: the numbers are those of the seed texts.
/// </summary>
public sealed class EditsExperiment : ILabExperiment
{
    public string Name => "edits";

    public ExperimentResult Run()
    {
        var result = new ExperimentResult
        {
            Experiment = Name,
            Title = "Residual edits: the stream is a running sum",
            Description =
                "A residual block does not replace its input; it adds an edit to it: y = x + f(x). Stacked blocks make a " +
                "running sum, the residual stream, where each block reads the current value and writes a correction.\n\n" +
                "Differentiating gives dy/dx = 1 + f'(x): the 1 is the identity path of the shortcut, so however small or " +
                "negative the branch derivative f'(x) is, the gradient keeps a term that passes through unchanged. " +
                "Every number below was computed with the engine's tensors and Backward(), not written by hand.",
            Parameters = [new("x", "4", "the stream value the first examples start from")],
        };
        RunningSum(result);
        Stations(result);
        LocalGradient(result);
        TanhVersusResidual(result);
        return result;
    }

    /// <summary>x = 4 plus the edits +1, -2.5 and 0; d(x + edit)/dx is 1 for every edit.</summary>
    static void RunningSum(ExperimentResult result)
    {
        var table = new ResultTable
        {
            Id = "running-sum", Title = "One block: x + edit",
            Columns = [new("x"), new("edit"), new("x + edit"), new("d(x + edit)/dx")],
        };
        foreach (float edit in new[] { 1f, -2.5f, 0f })
        {
            var x = Tensor.Scalar(4f).WithGrad();
            var y = x + Tensor.Scalar(edit);
            y.Backward();
            table.AddRow(x.Item(), edit, y.Item(), x.Grad!.Item());
        }
        result.Tables.Add(table);
    }

    /// <summary>Three stations 4 -> 5 -> 4.5 -> 6.5 (edits +1, -0.5, +2); the gradient of the last station reaching each one.</summary>
    static void Stations(ExperimentResult result)
    {
        float[] edits = [1f, -0.5f, 2f];
        var stream = new List<Tensor> { Tensor.Scalar(4f).WithGrad() };
        stream[0].RetainGrad = true;
        foreach (float edit in edits)
        {
            var next = stream[^1] + Tensor.Scalar(edit);
            next.RetainGrad = true;
            stream.Add(next);
        }
        stream[^1].Backward();

        var table = new ResultTable
        {
            Id = "stations", Title = "Three stations of the stream",
            Note = "The gradient of the final value with respect to every station is 1: sums pass gradients through unchanged.",
            Columns = [new("station"), new("edit written"), new("stream value"), new("d(final)/d(station)")],
        };
        for (int i = 0; i < stream.Count; i++)
            table.AddRow(i, i == 0 ? "(start)" : Signed(edits[i - 1]), stream[i].Item(), stream[i].Grad!.Item());
        result.Tables.Add(table);
        result.Charts.Add(new ChartSpec
        {
            Id = "stations", Kind = ChartKind.Line, Title = "The residual stream through three stations",
            Caption = "Each station adds its edit to the running value: 4 → 5 → 4.5 → 6.5.",
            X = new AxisSpec("station", "index"), Y = new AxisSpec("stream value"),
            Series =
            [
                new SeriesSpec
                {
                    Name = "stream",
                    Points = stream.Select((t, i) => new ChartPoint(i, t.Item(), i == 0 ? "start" : "edit " + Signed(edits[i - 1]))).ToList(),
                },
            ],
        });
        result.Findings.Add($"The stream ends at {stream[^1].Item().ToString(CultureInfo.InvariantCulture)} and the gradient " +
            $"of that end value reaches the start as {stream[0].Grad!.Item().ToString(CultureInfo.InvariantCulture)}: every edit is a sum.");
    }

    /// <summary>y = x + f(x) with f(x) = a x, so f'(x) = a: autograd gives 1 + a.</summary>
    static void LocalGradient(ExperimentResult result)
    {
        var table = new ResultTable
        {
            Id = "local-gradient", Title = "Local gradient of y = x + f(x) with f(x) = a·x (at x = 4)",
            Columns = [new("f'(x) = a"), new("plain dy/dx for y = f(x)"), new("residual dy/dx for y = x + f(x)")],
        };
        foreach (float slope in new[] { 0.2f, -0.7f, 0f })
        {
            var plainInput = Tensor.Scalar(4f).WithGrad();
            (plainInput * slope).Backward();
            var residualInput = Tensor.Scalar(4f).WithGrad();
            (residualInput + residualInput * slope).Backward();
            table.AddRow(slope, plainInput.Grad!.Item(), residualInput.Grad!.Item());
        }
        result.Tables.Add(table);
        result.Findings.Add("With f'(x) = 0 the plain layer passes no gradient at all, the residual one passes exactly 1; " +
            "with f'(x) = -0.7 the residual gradient is 0.3: the shortcut guarantees the 1 is present, not that the sum is at least 1.");
    }

    /// <summary>tanh(x) against x + tanh(x) for x = 2, -1, 0.5, -3: values and gradients by Backward().</summary>
    static void TanhVersusResidual(ExperimentResult result)
    {
        float[] inputs = [2f, -1f, 0.5f, -3f];
        var plainInput = Tensor.FromArray(inputs, inputs.Length).WithGrad();
        var plain = O.Tanh(plainInput);
        float[] plainValues = plain.ToArray();
        O.Sum(plain).Backward();
        var residualInput = Tensor.FromArray(inputs, inputs.Length).WithGrad();
        var residual = residualInput + O.Tanh(residualInput);
        float[] residualValues = residual.ToArray();
        O.Sum(residual).Backward();

        var table = new ResultTable
        {
            Id = "tanh", Title = "tanh(x) against x + tanh(x)",
            Note = "Gradients by Backward(): 1 − tanh²(x) for the plain layer, 1 + (1 − tanh²(x)) for the residual one.",
            Columns = [new("x"), new("tanh(x)"), new("x + tanh(x)"), new("d tanh/dx"), new("d(x + tanh)/dx")],
        };
        for (int i = 0; i < inputs.Length; i++)
            table.AddRow(inputs[i], plainValues[i], residualValues[i], plainInput.Grad!.Data[i], residualInput.Grad!.Data[i]);
        result.Tables.Add(table);
        result.Charts.Add(new ChartSpec
        {
            Id = "tanh-gradients", Kind = ChartKind.Bar, Title = "Gradient of tanh(x) and of x + tanh(x)",
            Caption = "Where tanh saturates (x = −3) its gradient almost vanishes; the residual keeps 1 on top of it.",
            X = new AxisSpec("input x"), Y = new AxisSpec("gradient", "dy/dx"),
            Categories = inputs.Select(v => "x = " + v.ToString(CultureInfo.InvariantCulture)).ToList(),
            Series =
            [
                new SeriesSpec { Name = "plain: tanh(x)", Values = plainInput.Grad!.Data.Select(v => (double?)v).ToList() },
                new SeriesSpec { Name = "residual: x + tanh(x)", Values = residualInput.Grad!.Data.Select(v => (double?)v).ToList() },
            ],
        });
        int last = inputs.Length - 1;
        result.Findings.Add($"At x = {inputs[last]} tanh is saturated: its gradient is {plainInput.Grad!.Data[last]:G3}, " +
            $"while x + tanh(x) still passes {residualInput.Grad!.Data[last]:G4}.");
    }

    static string Signed(float value) => (value >= 0 ? "+" : "") + value.ToString(CultureInfo.InvariantCulture);
}
