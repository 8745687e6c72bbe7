process PREDICT {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    tuple val(batch_id), path(haplotypes)
    path model_file         // [] unless params.model is a local file or directory
    path finetuned_weights  // [] when not given
    path track_names        // [] when not given

    output:
    // The reference.json files travel with the predictions: `seqgx stats` reads the model identity.
    tuple val(batch_id), path('predictions/*.{predictions.tsv,reference.json}'), emit: predictions
    path 'predictions/*.reference_tracks.tsv', optional: true,    emit: reference_tracks
    path 'versions.yml',                                          emit: versions

    script:
    def model    = model_file ? "${model_file}" : ''
    def hub      = model_file ? '' : "${params.model}"
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    def hparams  = params.hparams ? "--hparams '${params.hparams}'" : ''
    def provs    = params.providers ? "--providers ${params.providers}" : ''
    def tracks   = params.tracks ? "--tracks '${params.tracks}'" : ''
    def fallback = params.allow_cpu_fallback ? "--allow-cpu-fallback" : ''
    def revcomp  = params.reverse_complement ? "--reverse-complement" : ''
    def reftrack = params.reference_tracks ? "--reference-tracks" : ''
    """
    seqgx predict \\
        --haplotypes ${haplotypes} \\
        --model ${model}${hub} ${hparams} ${names} ${weights} ${tracks} \\
        --backend ${params.backend} ${provs} --device ${params.device} --precision ${params.precision} \\
        ${fallback} --bins ${params.bins} --pseudocount ${params.pseudocount} \\
        --person-combine ${params.person_combine} --batch-size ${params.batch_size} \\
        --max-shift ${params.max_shift} ${revcomp} ${reftrack} --seed ${params.seed} \\
        --out predictions

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
        onnxruntime: \$(python -c 'import onnxruntime; print(onnxruntime.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p predictions
    touch predictions/stub.predictions.tsv predictions/stub.reference.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
