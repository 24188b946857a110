// The learning-rate schedule at the points that matter (first step, during warmup, the peak, the middle and a quarter
// of the cosine, the end and after it), each computed here from nanoGPT's get_lr, plus its shape over every step.
using ResidualLM.Training;
using Xunit;

namespace ResidualLM.Tests.Training;

public class LearningRateScheduleTests
{
    const double Max = 6e-4, Min = 6e-5;
    const int Warmup = 10, Decay = 110; // the cosine runs over steps 10..110, 100 steps

    static readonly LearningRateSchedule Schedule = new(Max, Min, Warmup, Decay);

    [Fact]
    public void Warmup_RisesLinearlyToThePeak()
    {
        Assert.Equal(Max / 10, Schedule.At(0), 15);       // step 0 trains at 1/warmup of the peak, never at 0
        Assert.Equal(Max * 5 / 10, Schedule.At(4), 15);
        Assert.Equal(Max, Schedule.At(Warmup - 1), 15);   // the last warmup step reaches the peak
        Assert.Equal(Max, Schedule.At(Warmup), 15);       // and the cosine starts there (progress 0)
    }

    [Fact]
    public void Cosine_MiddleQuarterAndEnd()
    {
        // Middle (step 60, progress 1/2): cos(pi/2) = 0, so halfway between the peak and the floor.
        Assert.Equal((Max + Min) / 2, Schedule.At(60), 15);
        // A quarter in (step 35): Min + (Max - Min) (1 + cos(pi/4)) / 2, above the middle; three quarters (85): below.
        Assert.Equal(Min + (Max - Min) * (1 + Math.Sqrt(0.5)) / 2, Schedule.At(35), 15);
        Assert.Equal(Min + (Max - Min) * (1 - Math.Sqrt(0.5)) / 2, Schedule.At(85), 15);
        // The end and after: the floor.
        Assert.Equal(Min, Schedule.At(Decay), 15);
        Assert.Equal(Min, Schedule.At(Decay + 1000), 15);
        Assert.True(Schedule.At(Decay - 1) > Min && Schedule.At(Decay - 1) < Min + 1e-3 * (Max - Min), $"{Schedule.At(Decay - 1)} one step before the end");
    }

    [Fact]
    public void EveryStep_FollowsTheFormula_RisingThenFalling()
    {
        // The cosine half-wave written as cos^2 (1 + cos 2a = 2 cos^2 a), so this is not the code's expression copied.
        for (int step = 0; step <= Decay + 5; step++)
        {
            double expected = step < Warmup ? Max * (step + 1) / Warmup
                : step >= Decay ? Min
                : Min + (Max - Min) * Math.Pow(Math.Cos(Math.PI / 2 * (step - Warmup) / (Decay - Warmup)), 2);
            Assert.True(Math.Abs(Schedule.At(step) - expected) <= 1e-15, $"step {step}: {Schedule.At(step):R}, expected {expected:R}");
            if (step > 0 && step < Warmup) Assert.True(Schedule.At(step) > Schedule.At(step - 1), $"warmup falls at step {step}");
            if (step > Warmup && step <= Decay) Assert.True(Schedule.At(step) < Schedule.At(step - 1), $"cosine rises at step {step}");
        }
    }

    [Fact]
    public void Constant_KeepsThePeakAfterWarmup()
    {
        var constant = new LearningRateSchedule(Max, Min, Warmup, Decay, Cosine: false);
        Assert.Equal(Max / 10, constant.At(0), 15);
        foreach (int step in new[] { Warmup, 60, Decay, Decay + 50 }) Assert.Equal(Max, constant.At(step), 15);
    }

    [Fact]
    public void NoWarmup_StartsAtThePeak()
    {
        var schedule = new LearningRateSchedule(Max, Min, 0, 100);
        Assert.Equal(Max, schedule.At(0), 15);
        Assert.Equal((Max + Min) / 2, schedule.At(50), 15);
        Assert.Equal(Min, schedule.At(100), 15);
        // Warmup as long as the run: the cosine has no steps, and the floor follows the peak.
        var allWarmup = new LearningRateSchedule(Max, Min, 100, 100);
        Assert.Equal(Max, allWarmup.At(99), 15);
        Assert.Equal(Min, allWarmup.At(100), 15);
    }
}
